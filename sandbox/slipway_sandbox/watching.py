"""Watching the API from the sandbox's host processes (the volume provisioner, the projects
reconciler): a copy of every object of a kind kept by list and watch, a health endpoint that says
whether every copy is current, the loop that reconciles on every change, and one line per action
or failure."""

from __future__ import annotations

import datetime
import http.server
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

Obj = dict[str, Any]

# The API server ends each watch after this long; we then resume from the last resourceVersion.
WATCH_SECONDS = 240
# A watch that ends this much sooner than asked was cut (an API server restart), not timed out.
WATCH_EARLY = 10
# Connect and read timeouts: a watch is read for a little longer than the server keeps it open,
# so a connection that silently died is noticed.
LIST_TIMEOUT = (5, 60)
WATCH_TIMEOUT = (5, WATCH_SECONDS + 30)
# Back-off after a failed list, watch or action: doubles up to the cap, so a restarted API server
# is noticed within seconds without hammering it while it is down.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0

# What a failed API call or folder operation raises: the API's answer, a broken or refused
# connection (urllib3 raises those itself), or the file system's refusal.
FAILURES = (ApiException, urllib3.exceptions.HTTPError, OSError)


class WatchCut(Exception):
    """A watch ended well before its timeout: the API server closed it, most likely restarting."""


def say(message: str, error: bool = False) -> None:
    """One timestamped line: an action on stdout, a failure or a refusal on stderr."""
    now = datetime.datetime.now().isoformat(timespec="seconds")
    print(f"{now} {message}", file=sys.stderr if error else sys.stdout, flush=True)


def name_of(obj: Obj) -> str:
    return obj["metadata"]["name"]


def annotations_of(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


class Informer(threading.Thread):
    """Keeps a copy of every object of one kind: lists, then watches from the list's version;
    lists again after 410 Gone or a failure, and sets `changed` whenever the copy changes."""

    def __init__(self, kind: str, list_call: Callable[..., Any], changed: threading.Event) -> None:
        super().__init__(name=f"watch {kind}", daemon=True)
        self.kind = kind
        self._list_call = list_call
        self._changed = changed
        self._lock = threading.Lock()
        self._objects: dict[str, Obj] = {}
        # Set while the copy is current (listed, and watched since); cleared on a failure.
        self.synced = threading.Event()

    def objects(self) -> list[Obj]:
        with self._lock:
            return list(self._objects.values())

    def run(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            try:
                version: str | None = self._list()
                delay = BACKOFF_FIRST
                while version is not None:
                    version = self._watch(version)
            except (*FAILURES, WatchCut, json.JSONDecodeError) as error:
                self.synced.clear()
                say(f"{self.kind}: {error}; listing again in {delay:g}s", error=True)
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    @staticmethod
    def _key(obj: Obj) -> str:
        return f"{obj['metadata'].get('namespace', '')}/{name_of(obj)}"

    def _list(self) -> str:
        response = self._list_call(_preload_content=False, _request_timeout=LIST_TIMEOUT)
        try:
            listing = json.loads(response.data)
        finally:
            response.release_conn()
        with self._lock:
            self._objects = {self._key(obj): obj for obj in listing["items"]}
        self.synced.set()
        self._changed.set()
        return listing["metadata"]["resourceVersion"]

    def _watch(self, version: str) -> str | None:
        """Applies one watch's events; the version to watch from next, None to list again."""
        started = time.monotonic()
        response = self._list_call(watch=True, resource_version=version,
                                   allow_watch_bookmarks=True, timeout_seconds=WATCH_SECONDS,
                                   _preload_content=False, _request_timeout=WATCH_TIMEOUT)
        try:
            for line in response:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    if obj.get("code") == 410:  # our version is compacted away
                        return None
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                version = obj["metadata"]["resourceVersion"]
                if event["type"] == "BOOKMARK":
                    continue
                with self._lock:
                    if event["type"] == "DELETED":
                        self._objects.pop(self._key(obj), None)
                    else:
                        self._objects[self._key(obj)] = obj
                self._changed.set()
        finally:
            # Closed before it goes back to the pool: left mid-stream, the connection would
            # hand the rest of this watch to the next request.
            response.close()
            response.release_conn()
        if time.monotonic() - started < WATCH_SECONDS - WATCH_EARLY:
            # A restarting API server closes its watches cleanly; watching again at once would
            # spin while it is down, so this goes through the back-off and a fresh list.
            raise WatchCut(f"the watch ended after {time.monotonic() - started:.0f}s")
        return version


def serve_health(port: int, informers: list[Informer]) -> None:
    """Answers GET /healthz on 127.0.0.1:port from a background thread."""

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/healthz":
                self.send_error(404)
                return
            behind = [informer.kind for informer in informers if not informer.synced.is_set()]
            body = (f"not watching {', '.join(behind)}\n" if behind else "ok\n").encode()
            self.send_response(503 if behind else 200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # sandboxctl polls this several times a second while starting; the log is for actions.
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()


def reconcile_on_change(health_port: int, informers: list[Informer], changed: threading.Event,
                        reconcile: Callable[[], bool]) -> None:
    """Serve health, start the informers, then run `reconcile` after each change (`changed`, set
    by the informers) once every copy is current; a pass that leaves something to retry (returns
    False) runs again after a growing back-off. Each pass looks at everything, so an event missed
    or an action interrupted (the process is stopped with SIGTERM at any point) is made good by
    the next pass. Never returns."""
    serve_health(health_port, informers)
    for informer in informers:
        informer.start()
    retry: float | None = None
    while True:
        changed.wait(retry)
        changed.clear()
        if not all(informer.synced.is_set() for informer in informers):
            continue
        if reconcile():
            retry = None
        else:
            retry = BACKOFF_FIRST if retry is None else min(retry * 2, BACKOFF_MAX)
