"""Readiness: every named dependency check must pass; the answer says which did not."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus

from .errors import Unavailable
from .web import Response, json_response

log = logging.getLogger(__name__)

Check = Callable[[], None]


def healthz() -> Response:
    # Liveness only says the process serves requests: restarting it would not bring a
    # dependency back, so dependencies are left to readiness.
    return json_response(HTTPStatus.OK, {"status": "ok"})


def readiness(checks: Mapping[str, Check]) -> Callable[[], Response]:
    def readyz() -> Response:
        results = {}
        for name, check in checks.items():
            try:
                check()
            except Unavailable as exc:
                log.warning("readiness: %s", exc)
                results[name] = "unavailable"
            else:
                results[name] = "ok"
        ready = all(result == "ok" for result in results.values())
        return json_response(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE, results)

    return readyz
