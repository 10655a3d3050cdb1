"""The render queue against a real redis-server on a private Unix socket."""

import shutil
import subprocess
import time

import pytest
import redis

from slipway_demo.config import RedisSettings
from slipway_demo.errors import Unavailable
from slipway_demo.queue import RedisRenderQueue

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


@pytest.fixture
def redis_url(tmp_path):
    socket = tmp_path / "redis.sock"
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            assert server.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        yield f"unix://{socket}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def connect(url, longest_wait=0):
    return RedisRenderQueue.connect(RedisSettings(url, "test:render"), timeout=0.5, longest_wait=longest_wait)


def test_slugs_come_out_in_order(redis_url):
    queue = connect(redis_url, longest_wait=1)
    queue.ping()
    for slug in ("helloworld", "demo"):
        queue.enqueue(slug)
    assert [queue.pop(1), queue.pop(1)] == ["helloworld", "demo"]


def test_pop_waits_longer_than_the_socket_timeout(redis_url):
    # A blocking pop longer than the plain call timeout must end empty, not as an outage.
    queue = connect(redis_url, longest_wait=1)
    started = time.monotonic()
    assert queue.pop(1) is None
    assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize("message", [b"not json", b'{"slug": "Bad Slug"}', b'{"slug": 3}', b"[]"])
def test_malformed_messages_are_dropped(redis_url, message):
    queue = connect(redis_url, longest_wait=1)
    redis.Redis.from_url(redis_url).rpush("test:render", message)
    queue.enqueue("demo")
    assert queue.pop(1) is None
    assert queue.pop(1) == "demo"


def test_down_server_is_unavailable(tmp_path):
    queue = connect(f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(Unavailable, match="Redis"):
        queue.ping()
    with pytest.raises(Unavailable):
        queue.enqueue("demo")
