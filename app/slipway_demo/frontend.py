"""The frontend: HTML pages of cards, rendered on the server from the backend's API,
on port 40002.

Run: python -m slipway_demo.frontend
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from html import escape
from http import HTTPStatus
from typing import Any, Protocol

from .cards import is_valid_slug
from .config import ListenSettings, backend_url, entrypoint, timeout_seconds
from .errors import Unavailable
from .health import healthz, readiness
from .web import App, Response, html_response, serve

PORT = 40002


class Backend(Protocol):
    def get_card(self, slug: str) -> dict[str, Any] | None: ...

    def ping(self) -> None: ...


class BackendClient:
    def __init__(self, base_url: str, timeout: float):
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    def _get(self, path: str) -> Any:
        url = self._base_url + path
        try:
            with urllib.request.urlopen(url, timeout=self._timeout) as reply:
                return json.load(reply)
        except urllib.error.HTTPError as exc:
            if exc.code == HTTPStatus.NOT_FOUND:
                return None
            raise Unavailable(f"backend: GET {url} answered {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise Unavailable(f"backend: GET {url} failed: {exc}") from exc

    def get_card(self, slug: str) -> dict[str, Any] | None:
        return self._get(f"/api/v1/card/{slug}")

    def ping(self) -> None:
        if self._get("/healthz") is None:
            raise Unavailable("backend: /healthz not found; is BACKEND_URL the backend?")


_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def page(status: int, title: str, body_html: str) -> Response:
    return html_response(status, _PAGE.format(title=escape(title), body=body_html))


def _error(status: int, message: str) -> Response:
    return page(status, HTTPStatus(status).phrase, f"<p>{escape(message)}</p>")


def create_app(backend: Backend) -> App:
    def card(slug: str) -> Response:
        found = backend.get_card(slug) if is_valid_slug(slug) else None
        if found is None:
            return _error(HTTPStatus.NOT_FOUND, f"There is no card {slug!r}.")
        if found["rendered"]:
            # The worker made this HTML with raw HTML and unsafe links removed.
            body = found["html"]
        else:
            body = f"<p><em>This card is still being rendered.</em></p>\n<pre>{escape(found['markdown'])}</pre>"
        return page(HTTPStatus.OK, found["title"], body)

    return App(
        [
            (r"/healthz", healthz),
            (r"/readyz", readiness({"backend": backend.ping})),
            (r"/card/(?P<slug>[^/]*)", card),
        ],
        _error,
    )


@entrypoint
def main(env: Mapping[str, str]) -> None:
    listen = ListenSettings.from_env(env, PORT)
    backend = BackendClient(backend_url(env), timeout_seconds(env))
    serve(create_app(backend), listen, "slipway-demo-frontend")


if __name__ == "__main__":
    main()
