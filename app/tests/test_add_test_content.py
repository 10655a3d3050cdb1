import threading

import pytest

from slipway_demo.add_test_content import TEST_CARDS, add_test_content
from slipway_demo.cards import is_valid_slug
from slipway_demo.worker import Worker


@pytest.fixture
def seeded_and_rendered(store, queue, tmp_path):
    add_test_content(store, queue)
    worker = Worker(store, queue, tmp_path / "heartbeat", threading.Event())
    while queue.items:
        assert worker.render(queue.pop(0))


def test_seeds_both_cards_and_queues_them(store, queue):
    assert add_test_content(store, queue) == ["helloworld", "demo"]
    assert queue.items == ["helloworld", "demo"]
    assert store.indexed
    assert store.cards["helloworld"]["title"] == "Hello, world!"
    assert "seed job" in store.cards["helloworld"]["markdown"]


def test_second_run_changes_nothing_once_rendered(store, queue, seeded_and_rendered):
    before = {slug: dict(card) for slug, card in store.cards.items()}
    assert add_test_content(store, queue) == []
    assert queue.items == []
    assert store.cards == before


def test_second_run_before_rendering_queues_again(store, queue):
    # A queue message lost with a Redis restart is recovered by running the job again.
    add_test_content(store, queue)
    queue.items.clear()
    assert add_test_content(store, queue) == ["helloworld", "demo"]


def test_edited_card_is_restored_and_rendered_again(store, queue, seeded_and_rendered):
    store.upsert("demo", "Demo", "vandalised")
    assert store.set_html("demo", "vandalised", "<p>vandalised</p>")
    assert add_test_content(store, queue) == ["demo"]
    assert store.cards["demo"]["markdown"] == next(c["markdown"] for c in TEST_CARDS if c["slug"] == "demo")


def test_other_cards_are_left_alone(store, queue):
    store.upsert("mine", "Mine", "keep me")
    add_test_content(store, queue)
    assert store.cards["mine"] == {"slug": "mine", "title": "Mine", "markdown": "keep me"}


def test_test_cards_have_valid_unique_slugs():
    slugs = [card["slug"] for card in TEST_CARDS]
    assert slugs == ["helloworld", "demo"]
    assert all(is_valid_slug(slug) for slug in slugs)
