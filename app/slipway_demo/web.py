"""A few dozen lines of WSGI routing shared by the backend and the frontend, and the
waitress server they run under. Both serve a handful of GET routes, which does not
need a framework."""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import waitress

from .config import ListenSettings
from .errors import Unavailable

log = logging.getLogger(__name__)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"), "application/json")


# The pages run no script and load nothing but card images: should card HTML ever
# smuggle markup through, the browser still refuses to run or load it.
_PAGE_POLICY = (
    "default-src 'none'; img-src 'self' https: http:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def html_response(status: int, page: str) -> Response:
    headers = [("Content-Security-Policy", _PAGE_POLICY)]
    return Response(status, page.encode("utf-8"), "text/html; charset=utf-8", headers)


Handler = Callable[..., Response]


class App:
    """Routes GET and HEAD requests by full-path regular expressions; named groups
    become the handler's keyword arguments."""

    def __init__(self, routes: Iterable[tuple[str, Handler]], error: Callable[[int, str], Response]):
        self._routes = [(re.compile(pattern), handler) for pattern, handler in routes]
        self._error = error

    def handle(self, method: str, path: str) -> Response:
        for pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method not in ("GET", "HEAD"):
                response = self._error(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD are served")
                response.headers.append(("Allow", "GET, HEAD"))
                return response
            try:
                return handler(**match.groupdict())
            except Unavailable as exc:
                log.warning("%s %s: %s", method, path, exc)
                return self._error(HTTPStatus.SERVICE_UNAVAILABLE, "a dependency is unavailable, try again later")
            except Exception:
                log.exception("%s %s failed", method, path)
                return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
        return self._error(HTTPStatus.NOT_FOUND, "not found")

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        response = self.handle(method, environ.get("PATH_INFO") or "/")
        status = HTTPStatus(response.status)
        start_response(
            f"{status.value} {status.phrase}",
            [
                ("Content-Type", response.content_type),
                ("Content-Length", str(len(response.body))),
                ("X-Content-Type-Options", "nosniff"),
                *response.headers,
            ],
        )
        return [b""] if method == "HEAD" else [response.body]


def serve(app: App, listen: ListenSettings, name: str) -> None:
    # As PID 1 in a container the process gets no default SIGTERM action: without a
    # handler Kubernetes would wait out the whole grace period and then kill it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    waitress.serve(app, host=listen.host, port=listen.port, ident=name)
