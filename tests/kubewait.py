"""Event-driven waiting on Kubernetes objects for tests: a watch, never a sleep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import watch


def wait_for(
    list_function: Callable[..., Any],
    predicate: Callable[[Any], bool],
    timeout: int = 60,
    **list_arguments: Any,
) -> Any:
    """Watch the objects `list_function` lists until one satisfies `predicate`; return it.

    Event driven: the current state is checked first, then every change, so nothing is missed
    and nothing sleeps. Fails the test with the last object seen when the timeout passes.
    """
    listing = list_function(**list_arguments)
    for item in listing.items:
        if predicate(item):
            return item
    last = listing.items[-1] if listing.items else None
    stream = watch.Watch()
    for event in stream.stream(
        list_function,
        resource_version=listing.metadata.resource_version,
        timeout_seconds=timeout,
        **list_arguments,
    ):
        last = event["object"]
        if event["type"] != "DELETED" and predicate(last):
            stream.stop()
            return last
    pytest.fail(f"condition not met within {timeout}s; last object seen:\n{last}")
