"""Settings from environment variables, and the process entry point they all share.

Each component reads only the settings it uses, so a Deployment needs only the
variables of its own component. Secrets never come from the environment: the
MongoDB password is read from a mounted file.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import Unavailable


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip()
    if not value:
        raise ConfigError(f"{name} is set but empty")
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} is outside {low:g}..{high:g}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default, 1, 65535)
    if value != int(value):
        raise ConfigError(f"{name}={env[name]!r} is not a whole number")
    return int(value)


def timeout_seconds(env: Mapping[str, str]) -> float:
    """How long one call to MongoDB, Redis or the backend may take before it counts as down."""
    return _number(env, "DEPENDENCY_TIMEOUT_SECONDS", 2.0, 0.1, 60)


def backend_url(env: Mapping[str, str]) -> str:
    """Where the frontend finds the backend's API."""
    url = _text(env, "BACKEND_URL", "http://localhost:40001")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"BACKEND_URL={url!r} is not an http:// or https:// URL")
    return url


@dataclass(frozen=True)
class MongoSettings:
    host: str
    port: int
    username: str
    password_file: Path
    database: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MongoSettings:
        return cls(
            host=_text(env, "MONGODB_HOST", "localhost"),
            port=_port(env, "MONGODB_PORT", 27017),
            username=_text(env, "MONGODB_USERNAME", "root"),
            password_file=Path(_text(env, "MONGODB_PASSWORD_FILE", "/run/secrets/mongodb/password.txt")),
            database=_text(env, "MONGODB_DATABASE", "core"),
        )

    def read_password(self) -> str:
        try:
            text = self.password_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"MongoDB password file {self.password_file} does not exist: "
                "mount the secret there or point MONGODB_PASSWORD_FILE at it"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read MongoDB password file {self.password_file}: {exc}") from None
        # Files written by `echo` or an editor end in a newline that is not part of the
        # password; any other whitespace may be.
        password = text.rstrip("\r\n")
        if not password:
            raise ConfigError(f"MongoDB password file {self.password_file} is empty")
        return password


@dataclass(frozen=True)
class RedisSettings:
    url: str
    queue: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RedisSettings:
        return cls(
            url=_text(env, "REDIS_URL", "redis://localhost:6379/0"),
            queue=_text(env, "RENDER_QUEUE", "slipway:render"),
        )


@dataclass(frozen=True)
class ListenSettings:
    host: str
    port: int

    @classmethod
    def from_env(cls, env: Mapping[str, str], default_port: int) -> ListenSettings:
        return cls(host=_text(env, "LISTEN_HOST", "0.0.0.0"), port=_port(env, "LISTEN_PORT", default_port))


@dataclass(frozen=True)
class HeartbeatSettings:
    """The worker's liveness file: touched by its loop, its age checked by the probe."""

    file: Path
    max_age_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HeartbeatSettings:
        return cls(
            file=Path(_text(env, "WORKER_HEARTBEAT_FILE", "/tmp/slipway-worker.heartbeat")),
            max_age_seconds=_number(env, "WORKER_HEARTBEAT_MAX_AGE_SECONDS", 60, 1, 3600),
        )


def entrypoint(main: Callable[[Mapping[str, str]], int | None]) -> Callable[[], None]:
    """Runs `main(os.environ)` as a process: logging to stderr, and a bad setting or a
    dependency that is down ends it with one readable line instead of a traceback
    (exit status 2 and 1)."""

    # Run with `python -m`, the module is `__main__`; its spec still has the real name.
    spec = main.__globals__.get("__spec__")
    prog = spec.name if spec else main.__module__

    @functools.wraps(main)
    def run() -> None:
        logging.basicConfig(
            level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        try:
            status = main(os.environ)
        except ConfigError as exc:
            print(f"{prog}: configuration error: {exc}", file=sys.stderr)
            sys.exit(2)
        except Unavailable as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            sys.exit(1)
        sys.exit(status or 0)

    return run
