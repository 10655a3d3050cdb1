import threading
import time

import pytest

from slipway_demo.cards import is_rendered
from slipway_demo.worker import POLL_SECONDS, Worker, heartbeat_is_fresh


@pytest.fixture
def heartbeat(tmp_path):
    return tmp_path / "heartbeat"


@pytest.fixture
def stop():
    return threading.Event()


@pytest.fixture
def worker(store, queue, heartbeat, stop):
    return Worker(store, queue, heartbeat, stop, retry_seconds=0)


class StopWhenEmpty:
    """Wraps the fake queue so the loop ends once it has drained it."""

    def __init__(self, queue, stop, limit=20):
        self.queue, self.stop, self.left = queue, stop, limit

    def __getattr__(self, name):
        return getattr(self.queue, name)

    def pop(self, wait_seconds):
        self.left -= 1
        if not self.queue.items or self.left == 0:
            self.stop.set()
        return self.queue.pop(wait_seconds)


def test_render_stores_html_for_the_current_markdown(worker, store):
    store.upsert("demo", "Demo", "# Hi")
    assert worker.render("demo") is True
    assert store.cards["demo"]["html"] == "<h1>Hi</h1>"
    assert is_rendered(store.cards["demo"])


def test_render_of_a_missing_card_does_nothing(worker, store):
    assert worker.render("gone") is False
    assert store.cards == {}


def test_render_skips_a_card_that_is_already_rendered(worker, store):
    store.upsert("demo", "Demo", "# Hi")
    worker.render("demo")
    store.cards["demo"]["html"] = "<h1>kept</h1>"  # a second render would overwrite it
    assert worker.render("demo") is False
    assert store.cards["demo"]["html"] == "<h1>kept</h1>"


def test_render_does_not_overwrite_text_that_changed_meanwhile(worker, store):
    store.upsert("demo", "Demo", "old")
    real_get = store.get

    def get_then_edit(slug):
        card = real_get(slug)
        store.upsert("demo", "Demo", "new")
        return card

    store.get = get_then_edit
    assert worker.render("demo") is False
    assert "html" not in store.cards["demo"]


def test_loop_renders_queued_cards_and_beats(store, queue, heartbeat, stop):
    for slug in ("a", "b"):
        store.upsert(slug, slug.upper(), f"*{slug}*")
        queue.enqueue(slug)
    Worker(store, StopWhenEmpty(queue, stop), heartbeat, stop).run()
    assert store.cards["a"]["html"] == "<p><em>a</em></p>"
    assert store.cards["b"]["html"] == "<p><em>b</em></p>"
    assert queue.items == []
    assert queue.waits and set(queue.waits) == {POLL_SECONDS}
    assert heartbeat_is_fresh(heartbeat, max_age=60)


def test_job_is_requeued_when_mongodb_is_down(store, queue, heartbeat, stop):
    store.upsert("demo", "Demo", "text")
    queue.enqueue("demo")
    store.down = True
    outages = []

    class Wait(threading.Event):
        def wait(self, timeout=None):
            outages.append(list(queue.items))
            store.down = False  # the outage ends after one back-off
            return super().wait(0)

    stop = Wait()
    Worker(store, StopWhenEmpty(queue, stop), heartbeat, stop, retry_seconds=5).run()
    assert outages == [["demo"]]
    assert is_rendered(store.cards["demo"])


def test_redis_outage_backs_off_instead_of_crashing(store, queue, heartbeat, stop):
    queue.down = True
    waits = []

    class Wait(threading.Event):
        def wait(self, timeout=None):
            waits.append(timeout)
            self.set()
            return True

    stop = Wait()
    Worker(store, queue, heartbeat, stop, retry_seconds=7).run()
    assert waits == [7]


def test_stop_ends_the_loop_before_popping(worker, queue, stop):
    stop.set()
    queue.enqueue("demo")
    worker.run()
    assert queue.items == ["demo"]


def test_heartbeat_freshness(heartbeat):
    assert not heartbeat_is_fresh(heartbeat, max_age=60)
    heartbeat.touch()
    now = heartbeat.stat().st_mtime
    assert heartbeat_is_fresh(heartbeat, max_age=60, now=now + 59)
    assert not heartbeat_is_fresh(heartbeat, max_age=60, now=now + 61)
    assert heartbeat_is_fresh(heartbeat, max_age=60, now=time.time())
