"""The worker: takes card slugs off the Redis render queue, renders each card's
markdown to HTML and stores it on the card.

Run:   python -m slipway_demo.worker
Probe: python -m slipway_demo.worker --check-heartbeat   (exit 0 while the loop runs)
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ConfigError, HeartbeatSettings, MongoSettings, RedisSettings, entrypoint, timeout_seconds
from .errors import Unavailable

# The liveness probe runs this module with --check-heartbeat every 10 s, under the worker's CPU
# limit: importing the Redis and MongoDB clients and the renderer made each check take 2.5 s
# at 250m (measured on the sandbox's real node), beyond the probe's 2 s timeout, so the kubelet
# killed a healthy worker again and again. The check imports none of them.
if TYPE_CHECKING:
    from .queue import RenderQueue
    from .store import CardStore

log = logging.getLogger(__spec__.name)  # not "__main__" when run with -m

# Seconds one blocking pop waits: the longest a stop request or a heartbeat waits too.
POLL_SECONDS = 5


class Worker:
    def __init__(
        self,
        store: CardStore,
        queue: RenderQueue,
        heartbeat: Path,
        stop: threading.Event,
        retry_seconds: float = 5,
    ):
        self._store = store
        self._queue = queue
        self._heartbeat = heartbeat
        self._stop = stop
        self._retry_seconds = retry_seconds

    def render(self, slug: str) -> bool:
        """Renders one card; says whether it stored new HTML."""
        from .cards import is_rendered, render_markdown

        card = self._store.get(slug)
        if card is None:
            log.warning("card %r does not exist (any more); nothing to render", slug)
            return False
        if is_rendered(card):
            log.info("card %r is already rendered", slug)
            return False
        if not self._store.set_html(slug, card["markdown"], render_markdown(card["markdown"])):
            log.info("card %r changed while it was rendered; the change queued its own render", slug)
            return False
        log.info("rendered card %r", slug)
        return True

    def run(self) -> None:
        log.info("worker started")
        while not self._stop.is_set():
            self._heartbeat.touch()
            slug = None
            try:
                slug = self._queue.pop(POLL_SECONDS)
                if slug is not None:
                    self.render(slug)
            except Unavailable as exc:
                log.warning("%s; retrying in %gs", exc, self._retry_seconds)
                if slug is not None:
                    self._requeue(slug)
                self._stop.wait(self._retry_seconds)
        log.info("worker stopped")

    def _requeue(self, slug: str) -> None:
        try:
            self._queue.enqueue(slug)
        except Unavailable as exc:
            log.error("lost the render of card %r (%s); re-running add_test_content queues it again", slug, exc)


def heartbeat_is_fresh(heartbeat: Path, max_age: float, now: float | None = None) -> bool:
    try:
        beat = heartbeat.stat().st_mtime
    except FileNotFoundError:
        return False
    return (time.time() if now is None else now) - beat <= max_age


@entrypoint
def main(env: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m slipway_demo.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check-heartbeat",
        action="store_true",
        help="exit 0 if this container's worker loop ran within WORKER_HEARTBEAT_MAX_AGE_SECONDS, else 1 "
        "(for an exec liveness probe: a wedged loop has no port to probe)",
    )
    args = parser.parse_args()
    heartbeat = HeartbeatSettings.from_env(env)
    if args.check_heartbeat:
        return 0 if heartbeat_is_fresh(heartbeat.file, heartbeat.max_age_seconds) else 1
    try:
        heartbeat.file.touch()
    except OSError as exc:
        raise ConfigError(f"cannot write WORKER_HEARTBEAT_FILE {heartbeat.file}: {exc.strerror}") from None

    from .queue import RedisRenderQueue
    from .store import MongoCardStore

    timeout = timeout_seconds(env)
    store = MongoCardStore.connect(MongoSettings.from_env(env), timeout)
    queue = RedisRenderQueue.connect(RedisSettings.from_env(env), timeout, longest_wait=POLL_SECONDS)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Worker(store, queue, heartbeat.file, stop).run()
    return 0


if __name__ == "__main__":
    main()
