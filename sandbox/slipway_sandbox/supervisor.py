"""Starting, checking and stopping the sandbox's processes, each with a pid file and a log."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import cri, layout
from .layout import SandboxError, log


@dataclass
class Component:
    name: str
    argv: list[str]
    # An https/http URL answering 200; "unix:" + a socket answering Docker's /_ping; or
    # "cri:" + a container runtime's socket whose CRI answers (see cri.py).
    health: str
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    # A network namespace (under /run/netns) the process runs in; only its network is its own,
    # so the mounts it makes are seen by the host's other processes (kubelet -> containerd).
    netns: str | None = None

    @property
    def binary(self) -> str:
        return os.path.basename(self.argv[0])

    @property
    def pidfile(self) -> Path:
        return layout.RUN / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return layout.LOGS / f"{self.name}.log"

    def command(self) -> list[str]:
        if self.netns is None:
            return self.argv
        # nsenter execs the binary, so the pid file and /proc name the component itself.
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--", *self.argv]


def running_pid(pidfile: Path, binary: str) -> int | None:
    """The pid in `pidfile` if that process is alive and runs `binary`; a stale file is removed."""
    try:
        recorded = pidfile.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        pid = int(recorded)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (ValueError, FileNotFoundError, ProcessLookupError):
        cmdline = ""
    if os.path.basename(cmdline) == binary:
        return pid
    log(f"removing stale pid file {pidfile} ({recorded!r} is not a running {binary}"
        + (f"; that pid is now {cmdline})" if cmdline else ")"))
    pidfile.unlink(missing_ok=True)
    return None


def port_owner(port: int) -> str | None:
    """Who listens on 127.0.0.1:port, or None when the port is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return None
        except OSError:
            pass
    if shutil.which("ss"):
        listing = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True)
        if listing.stdout.strip():
            return listing.stdout.split("users:", 1)[-1].strip()
    return "an unknown process"


def healthy(component: Component, ssl_context: ssl.SSLContext) -> bool:
    kind, _, target = component.health.partition(":")
    if kind == "cri":
        return cri.answers(target)
    if kind == "unix":
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(2)
            try:
                client.connect(target)
                client.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b" 200 " in client.recv(64)
            except OSError:
                return False
    try:
        with urllib.request.urlopen(component.health, timeout=2, context=ssl_context) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(component: Component, ssl_context: ssl.SSLContext) -> None:
    pid = running_pid(component.pidfile, component.binary)
    if pid is not None:
        log(f"{component.name} already running (pid {pid})")

        def alive() -> bool:
            return running_pid(component.pidfile, component.binary) is not None
    else:
        if component.port is not None:
            owner = port_owner(component.port)
            if owner:
                raise SandboxError(
                    f"port 127.0.0.1:{component.port} that {component.name} needs is taken by "
                    f"{owner}; stop it, or stop the other sandbox with `make sandbox-down`"
                )
        component.logfile.parent.mkdir(parents=True, exist_ok=True)
        with component.logfile.open("ab") as output:
            process = subprocess.Popen(
                component.command(),
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, **component.env}, cwd=component.cwd,
            )
        component.pidfile.write_text(f"{process.pid}\n")
        log(f"started {component.name} (pid {process.pid}, log {component.logfile})")

        def alive() -> bool:
            # Our own child: poll() is exact, where /proc may still show this script before exec.
            return process.poll() is None
    deadline = time.monotonic() + layout.STARTUP_TIMEOUT
    while not healthy(component, ssl_context):
        if not alive():
            component.pidfile.unlink(missing_ok=True)
            tail = component.logfile.read_text(errors="replace").splitlines()[-25:]
            raise SandboxError(f"{component.name} exited during start-up; its log ends with:\n"
                               + "\n".join(tail))
        if time.monotonic() > deadline:
            raise SandboxError(f"{component.name} not healthy after {layout.STARTUP_TIMEOUT:.0f}s; "
                               f"see {component.logfile}")
        time.sleep(0.2)


def stop(component: Component) -> None:
    pid = running_pid(component.pidfile, component.binary)
    if pid is None:
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            break
        time.sleep(0.1)
    else:
        if Path(f"/proc/{pid}").exists():
            os.killpg(pid, signal.SIGKILL)
    component.pidfile.unlink(missing_ok=True)
    log(f"stopped {component.name} (pid {pid})")


def status_line(component: Component, ssl_context: ssl.SSLContext) -> tuple[bool, str]:
    pid = running_pid(component.pidfile, component.binary)
    if pid is None:
        return False, "stopped"
    ok = healthy(component, ssl_context)
    return ok, f"running (pid {pid}), " + ("healthy" if ok else "NOT healthy")
