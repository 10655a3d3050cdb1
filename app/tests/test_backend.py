import pytest

from slipway_demo.backend import create_app
from slipway_demo.cards import render_markdown, source_digest


@pytest.fixture
def app(store, queue):
    return create_app(store, {"mongodb": store.ping, "redis": queue.ping})


def test_healthz_needs_no_dependency(app, store, queue, wsgi):
    store.down = queue.down = True
    reply = wsgi(app, "/healthz")
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


def test_readyz_when_all_dependencies_answer(app, wsgi):
    reply = wsgi(app, "/readyz")
    assert reply.status == 200
    assert reply.json() == {"mongodb": "ok", "redis": "ok"}


@pytest.mark.parametrize("down", ["mongodb", "redis"])
def test_readyz_names_the_dependency_that_is_down(app, store, queue, wsgi, down):
    {"mongodb": store, "redis": queue}[down].down = True
    reply = wsgi(app, "/readyz")
    assert reply.status == 503
    assert reply.json()[down] == "unavailable"
    assert list(reply.json().values()).count("ok") == 1


def test_card_is_served_as_json(app, store, wsgi):
    store.cards["demo"] = {
        "slug": "demo",
        "title": "Demo",
        "markdown": "*hi*",
        "html": render_markdown("*hi*"),
        "html_source": source_digest("*hi*"),
    }
    reply = wsgi(app, "/api/v1/card/demo")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {
        "slug": "demo",
        "title": "Demo",
        "markdown": "*hi*",
        "html": "<p><em>hi</em></p>",
        "rendered": True,
    }


def test_unrendered_card_has_no_html(app, store, wsgi):
    store.cards["demo"] = {"slug": "demo", "title": "Demo", "markdown": "*hi*"}
    assert wsgi(app, "/api/v1/card/demo").json()["rendered"] is False


def test_missing_card_is_404(app, wsgi):
    reply = wsgi(app, "/api/v1/card/nope")
    assert reply.status == 404
    assert "nope" in reply.json()["error"]


@pytest.mark.parametrize("slug", ["Bad_Slug", "", "a--b", "x" * 65])
def test_invalid_slug_is_400_and_never_queried(app, store, wsgi, slug):
    store.down = True  # a query would answer 503
    reply = wsgi(app, f"/api/v1/card/{slug}")
    assert reply.status == 400
    assert "slug" in reply.json()["error"]


def test_database_outage_is_503_without_details(app, store, wsgi):
    store.down = True
    reply = wsgi(app, "/api/v1/card/demo")
    assert reply.status == 503
    assert "fake outage" not in reply.body.decode()


def test_handler_bug_is_500(store, queue, wsgi):
    def broken():
        raise RuntimeError("boom")

    reply = wsgi(create_app(store, {"mongodb": broken}), "/readyz")
    assert reply.status == 500
    assert reply.json() == {"error": "internal error"}


def test_unknown_path_is_404(app, wsgi):
    assert wsgi(app, "/api/v1/cards").status == 404
    assert wsgi(app, "/api/v1/card/demo/extra").status == 404


def test_only_get_and_head(app, wsgi):
    reply = wsgi(app, "/healthz", method="POST")
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, HEAD"


def test_head_has_headers_but_no_body(app, wsgi):
    reply = wsgi(app, "/healthz", method="HEAD")
    assert reply.status == 200
    assert reply.body == b""
    assert int(reply.headers["Content-Length"]) > 0
