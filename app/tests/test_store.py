"""The store's queries against mongomock, an in-process stand-in for MongoDB."""

import mongomock
import pymongo.errors
import pytest

from slipway_demo.cards import is_rendered, source_digest
from slipway_demo.errors import Unavailable
from slipway_demo.store import MongoCardStore


@pytest.fixture
def client():
    return mongomock.MongoClient()


@pytest.fixture
def mongo_store(client):
    return MongoCardStore(client, "core")


def test_cards_live_in_core_cards(mongo_store, client):
    mongo_store.upsert("demo", "Demo", "text")
    assert client["core"]["cards"].count_documents({"slug": "demo"}) == 1


def test_upsert_creates_then_updates_one_card(mongo_store, client):
    assert mongo_store.upsert("demo", "Demo", "v1") == {"slug": "demo", "title": "Demo", "markdown": "v1"}
    mongo_store.set_html("demo", "v1", "<p>v1</p>")
    stored = mongo_store.upsert("demo", "Demo 2", "v2")
    assert stored["title"] == "Demo 2" and stored["markdown"] == "v2"
    assert stored["html"] == "<p>v1</p>" and not is_rendered(stored)
    assert client["core"]["cards"].count_documents({}) == 1


def test_get_hides_the_object_id(mongo_store):
    assert mongo_store.get("demo") is None
    mongo_store.upsert("demo", "Demo", "text")
    assert "_id" not in mongo_store.get("demo")


def test_set_html_only_for_the_markdown_it_was_made_from(mongo_store):
    mongo_store.upsert("demo", "Demo", "new")
    assert mongo_store.set_html("demo", "old", "<p>old</p>") is False
    assert "html" not in mongo_store.get("demo")
    assert mongo_store.set_html("demo", "new", "<p>new</p>") is True
    assert mongo_store.get("demo")["html_source"] == source_digest("new")
    assert mongo_store.set_html("gone", "new", "<p>new</p>") is False


def test_slug_index_is_unique(mongo_store, client):
    mongo_store.ensure_indexes()
    mongo_store.ensure_indexes()
    assert client["core"]["cards"].index_information()["slug_unique"]["unique"] is True
    client["core"]["cards"].insert_one({"slug": "demo"})
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        client["core"]["cards"].insert_one({"slug": "demo"})


def test_driver_errors_become_unavailable(mongo_store, client, monkeypatch):
    def fail(*args, **kwargs):
        raise pymongo.errors.ServerSelectionTimeoutError("no servers")

    monkeypatch.setattr(client["core"]["cards"], "find_one", fail)
    monkeypatch.setattr(mongo_store, "_cards", client["core"]["cards"])
    with pytest.raises(Unavailable, match="MongoDB: no servers"):
        mongo_store.get("demo")
