"""The seed job: makes sure the `helloworld` and `demo` cards exist with the text below
and that their rendering is queued. Safe to run any number of times: cards are
upserted by slug and a card is queued only while its HTML is missing or stale.

Run: python -m slipway_demo.add_test_content
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from .cards import is_rendered
from .config import MongoSettings, RedisSettings, entrypoint, timeout_seconds
from .queue import RedisRenderQueue, RenderQueue
from .store import CardStore, MongoCardStore

log = logging.getLogger(__spec__.name)  # not "__main__" when run with -m

TEST_CARDS = (
    {
        "slug": "helloworld",
        "title": "Hello, world!",
        "markdown": (
            "# Hello, world!\n\n"
            "This card was stored by the **seed job**, rendered by the *worker* and is\n"
            "served by the backend's JSON API and the frontend's pages.\n"
        ),
    },
    {
        "slug": "demo",
        "title": "How this demo fits together",
        "markdown": (
            "## Components\n\n"
            "| component | does |\n"
            "|---|---|\n"
            "| backend | `GET /api/v1/card/<slug>` from MongoDB |\n"
            "| worker | renders markdown from the Redis queue |\n"
            "| frontend | HTML pages at `/card/<slug>` |\n\n"
            "```\n"
            "seed job -> MongoDB + Redis queue -> worker -> MongoDB -> backend -> frontend\n"
            "```\n"
        ),
    },
)


def add_test_content(store: CardStore, queue: RenderQueue) -> list[str]:
    """Upserts the test cards; returns the slugs it queued for rendering."""
    store.ensure_indexes()
    queued = []
    for card in TEST_CARDS:
        stored = store.upsert(card["slug"], card["title"], card["markdown"])
        if is_rendered(stored):
            log.info("card %r is up to date", card["slug"])
            continue
        queue.enqueue(card["slug"])
        queued.append(card["slug"])
        log.info("card %r stored, rendering queued", card["slug"])
    return queued


@entrypoint
def main(env: Mapping[str, str]) -> None:
    timeout = timeout_seconds(env)
    store = MongoCardStore.connect(MongoSettings.from_env(env), timeout)
    queue = RedisRenderQueue.connect(RedisSettings.from_env(env), timeout)
    add_test_content(store, queue)


if __name__ == "__main__":
    main()
