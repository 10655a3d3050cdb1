"""The backend: a JSON API over the cards in MongoDB, on port 40001.

Run: python -m slipway_demo.backend
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from .cards import SLUG_MAX_LENGTH, is_valid_slug, public_view
from .config import ListenSettings, MongoSettings, RedisSettings, entrypoint, timeout_seconds
from .health import Check, healthz, readiness
from .queue import RedisRenderQueue
from .store import CardStore, MongoCardStore
from .web import App, Response, json_response, serve

PORT = 40001


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


def create_app(store: CardStore, checks: Mapping[str, Check]) -> App:
    def card(slug: str) -> Response:
        if not is_valid_slug(slug):
            return _error(
                HTTPStatus.BAD_REQUEST,
                f"a slug is lowercase letters and digits in hyphen-joined words, at most {SLUG_MAX_LENGTH} long",
            )
        found = store.get(slug)
        if found is None:
            return _error(HTTPStatus.NOT_FOUND, f"no card {slug!r}")
        return json_response(HTTPStatus.OK, public_view(found))

    return App(
        [
            (r"/healthz", healthz),
            (r"/readyz", readiness(checks)),
            (r"/api/v1/card/(?P<slug>[^/]*)", card),
        ],
        _error,
    )


@entrypoint
def main(env: Mapping[str, str]) -> None:
    listen = ListenSettings.from_env(env, PORT)
    timeout = timeout_seconds(env)
    store = MongoCardStore.connect(MongoSettings.from_env(env), timeout)
    queue = RedisRenderQueue.connect(RedisSettings.from_env(env), timeout)
    serve(create_app(store, {"mongodb": store.ping, "redis": queue.ping}), listen, "slipway-demo-backend")


if __name__ == "__main__":
    main()
