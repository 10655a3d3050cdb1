"""The render queue: a Redis list of JSON messages, pushed at the tail and popped
from the head with a blocking pop, so workers wait without polling."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import redis

from .cards import is_valid_slug
from .config import RedisSettings
from .errors import Unavailable

log = logging.getLogger(__name__)


class RenderQueue(Protocol):
    def enqueue(self, slug: str) -> None: ...

    def pop(self, wait_seconds: int) -> str | None:
        """The next slug, or None when none came within `wait_seconds`."""

    def ping(self) -> None: ...


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise Unavailable(f"Redis: {exc}") from exc


class RedisRenderQueue:
    def __init__(self, client: redis.Redis, name: str):
        self._client = client
        self._name = name

    @classmethod
    def connect(cls, settings: RedisSettings, timeout: float, longest_wait: int = 0) -> RedisRenderQueue:
        # A blocking pop holds the socket silent for up to `longest_wait` seconds,
        # which must not count as a dead server.
        client = redis.Redis.from_url(
            settings.url, socket_connect_timeout=timeout, socket_timeout=timeout + longest_wait
        )
        return cls(client, settings.queue)

    def enqueue(self, slug: str) -> None:
        with _redis_errors():
            self._client.rpush(self._name, json.dumps({"slug": slug}))

    def pop(self, wait_seconds: int) -> str | None:
        with _redis_errors():
            item = self._client.blpop([self._name], timeout=wait_seconds)
        if item is None:
            return None
        try:
            slug = json.loads(item[1])["slug"]
        except (ValueError, TypeError, KeyError):
            slug = None
        if not isinstance(slug, str) or not is_valid_slug(slug):
            # Dropped, not retried: a malformed message would fail the same way forever.
            log.warning("dropping malformed message from %s: %.200r", self._name, item[1])
            return None
        return slug

    def ping(self) -> None:
        with _redis_errors():
            self._client.ping()
