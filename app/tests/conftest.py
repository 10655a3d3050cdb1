"""Fakes of the store and the queue, so handlers and loops are tested without MongoDB
or Redis, and a WSGI caller, so the HTTP apps are tested without a server."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slipway_demo.cards import source_digest
from slipway_demo.errors import Unavailable


class FakeStore:
    def __init__(self):
        self.cards: dict[str, dict] = {}
        self.down = False
        self.indexed = False

    def _check(self):
        if self.down:
            raise Unavailable("MongoDB: fake outage")

    def get(self, slug):
        self._check()
        return copy.deepcopy(self.cards.get(slug))

    def upsert(self, slug, title, markdown):
        self._check()
        self.cards.setdefault(slug, {"slug": slug}).update(title=title, markdown=markdown)
        return copy.deepcopy(self.cards[slug])

    def set_html(self, slug, markdown, html):
        self._check()
        card = self.cards.get(slug)
        if card is None or card["markdown"] != markdown:
            return False
        card.update(html=html, html_source=source_digest(markdown))
        return True

    def ensure_indexes(self):
        self._check()
        self.indexed = True

    def ping(self):
        self._check()


class FakeQueue:
    def __init__(self):
        self.items: list[str] = []
        self.down = False
        self.waits: list[int] = []

    def _check(self):
        if self.down:
            raise Unavailable("Redis: fake outage")

    def enqueue(self, slug):
        self._check()
        self.items.append(slug)

    def pop(self, wait_seconds):
        self._check()
        self.waits.append(wait_seconds)
        return self.items.pop(0) if self.items else None

    def ping(self):
        self._check()


@pytest.fixture
def store():
    return FakeStore()


@pytest.fixture
def queue():
    return FakeQueue()


class Reply:
    def __init__(self, status: str, headers: list, body: bytes):
        self.status = int(status.split()[0])
        self.headers = dict(headers)
        self.body = body

    def json(self):
        return json.loads(self.body)


@pytest.fixture
def wsgi():
    """Calls a WSGI app the way a server would; returns status, headers and body."""

    def call(app, path, method="GET"):
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
        setup_testing_defaults(environ)
        started = {}

        def start_response(status, headers):
            started.update(status=status, headers=headers)

        body = b"".join(app(environ, start_response))
        return Reply(started["status"], started["headers"], body)

    return call
