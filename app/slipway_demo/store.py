"""Cards in MongoDB: database `core` by default, collection `cards`, one per slug."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from pymongo import MongoClient, ReturnDocument
from pymongo.errors import PyMongoError

from .cards import source_digest
from .config import MongoSettings
from .errors import Unavailable

Card = dict[str, Any]


class CardStore(Protocol):
    def get(self, slug: str) -> Card | None: ...

    def upsert(self, slug: str, title: str, markdown: str) -> Card:
        """Creates or updates a card's text and returns the card as stored."""

    def set_html(self, slug: str, markdown: str, html: str) -> bool:
        """Stores `html` only if the card still has `markdown`; says whether it did."""

    def ensure_indexes(self) -> None: ...

    def ping(self) -> None: ...


@contextmanager
def _mongo_errors() -> Iterator[None]:
    try:
        yield
    except PyMongoError as exc:
        raise Unavailable(f"MongoDB: {exc}") from exc


class MongoCardStore:
    def __init__(self, client: MongoClient, database: str):
        self._client = client
        self._cards = client[database]["cards"]

    @classmethod
    def connect(cls, settings: MongoSettings, timeout: float) -> MongoCardStore:
        ms = int(timeout * 1000)
        # The password goes in as an argument, not in a URI, so it needs no escaping and
        # cannot end up in a logged connection string. The root user lives in `admin`.
        client: MongoClient = MongoClient(
            host=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.read_password(),
            authSource="admin",
            appname="slipway-demo",
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms,
            socketTimeoutMS=ms,
        )
        return cls(client, settings.database)

    def get(self, slug: str) -> Card | None:
        with _mongo_errors():
            return self._cards.find_one({"slug": slug}, {"_id": False})

    def upsert(self, slug: str, title: str, markdown: str) -> Card:
        with _mongo_errors():
            card = self._cards.find_one_and_update(
                {"slug": slug},
                {"$set": {"title": title, "markdown": markdown}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        # Dropped here rather than by a projection: FerretDB, MongoDB's stand-in on the
        # sandbox, does not implement findAndModify's `fields`.
        card.pop("_id", None)
        return card

    def set_html(self, slug: str, markdown: str, html: str) -> bool:
        # Matching on the markdown too keeps a slow render from overwriting the HTML of
        # text that changed meanwhile; that change queued its own render.
        with _mongo_errors():
            result = self._cards.update_one(
                {"slug": slug, "markdown": markdown},
                {"$set": {"html": html, "html_source": source_digest(markdown)}},
            )
        return result.matched_count == 1

    def ensure_indexes(self) -> None:
        with _mongo_errors():
            self._cards.create_index("slug", unique=True, name="slug_unique")

    def ping(self) -> None:
        with _mongo_errors():
            self._client.admin.command("ping")
