import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from slipway_demo.errors import Unavailable
from slipway_demo.frontend import BackendClient, create_app


class FakeBackend:
    def __init__(self):
        self.cards = {}
        self.down = False
        self.asked = []

    def get_card(self, slug):
        self.asked.append(slug)
        if self.down:
            raise Unavailable("backend: fake outage")
        return self.cards.get(slug)

    def ping(self):
        if self.down:
            raise Unavailable("backend: fake outage")


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def app(backend):
    return create_app(backend)


def card(**fields):
    return {
        "slug": "demo",
        "title": "Demo",
        "markdown": "*hi*",
        "html": "<p><em>hi</em></p>",
        "rendered": True,
        **fields,
    }


def test_card_page_shows_the_rendered_html(app, backend, wsgi):
    backend.cards["demo"] = card()
    reply = wsgi(app, "/card/demo")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    page = reply.body.decode()
    assert "<title>Demo</title>" in page
    assert "<p><em>hi</em></p>" in page


def test_title_and_pending_markdown_are_escaped(app, backend, wsgi):
    backend.cards["demo"] = card(
        title="<script>t</script>", markdown="<img src=x onerror=y>", html=None, rendered=False
    )
    page = wsgi(app, "/card/demo").body.decode()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;t&lt;/script&gt;" in page
    assert "still being rendered" in page


def test_missing_card_is_404(app, wsgi):
    reply = wsgi(app, "/card/nope")
    assert reply.status == 404
    assert "There is no card &#x27;nope&#x27;." in reply.body.decode()


def test_invalid_slug_is_404_without_asking_the_backend(app, backend, wsgi):
    assert wsgi(app, "/card/..%2F..").status == 404
    assert backend.asked == []


def test_backend_outage(app, backend, wsgi):
    backend.down = True
    assert wsgi(app, "/card/demo").status == 503
    assert wsgi(app, "/readyz").status == 503
    assert wsgi(app, "/healthz").status == 200


def test_readyz_when_backend_answers(app, wsgi):
    reply = wsgi(app, "/readyz")
    assert reply.status == 200
    assert reply.json() == {"backend": "ok"}


class _Canned(BaseHTTPRequestHandler):
    replies: ClassVar = {
        "/healthz": (200, {"status": "ok"}),
        "/api/v1/card/demo": (200, card()),
        "/api/v1/card/nope": (404, {"error": "no card 'nope'"}),
        "/api/v1/card/boom": (500, {"error": "internal error"}),
    }

    def do_GET(self):
        status, payload = self.replies.get(self.path, (404, {}))
        body = b"not json" if self.path == "/api/v1/card/garbled" else json.dumps(payload).encode()
        self.send_response(200 if self.path == "/api/v1/card/garbled" else status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def backend_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_client_reads_cards_over_http(backend_url):
    client = BackendClient(backend_url, timeout=2)
    assert client.get_card("demo") == card()
    assert client.get_card("nope") is None
    client.ping()


@pytest.mark.parametrize("slug", ["boom", "garbled"])
def test_client_reports_a_broken_backend_as_unavailable(backend_url, slug):
    with pytest.raises(Unavailable, match="backend"):
        BackendClient(backend_url, timeout=2).get_card(slug)


def test_client_reports_an_unreachable_backend_as_unavailable():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    port = server.server_address[1]
    server.server_close()  # the port is now closed: connections are refused
    with pytest.raises(Unavailable, match="failed"):
        BackendClient(f"http://127.0.0.1:{port}", timeout=2).ping()
