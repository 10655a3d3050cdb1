"""sandboxctl's handling of bad states: stale pid files, taken ports, a process that dies."""

from __future__ import annotations

import importlib.util
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

SANDBOXCTL = Path(__file__).resolve().parents[2] / "sandbox" / "sandboxctl.py"
spec = importlib.util.spec_from_file_location("sandboxctl", SANDBOXCTL)
sandboxctl = importlib.util.module_from_spec(spec)
sys.modules["sandboxctl"] = sandboxctl  # dataclasses look their module up there
spec.loader.exec_module(sandboxctl)


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandboxctl, "RUN", tmp_path / "run")
    monkeypatch.setattr(sandboxctl, "LOGS", tmp_path / "logs")
    (tmp_path / "run").mkdir()


def test_pid_file_of_an_exited_process_is_stale(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "etcd.pid"
    pidfile.write_text("999999999\n")  # above the kernel's pid_max: never a live process
    assert sandboxctl.running_pid(pidfile, "etcd") is None
    assert not pidfile.exists()


def test_pid_file_naming_another_program_is_stale(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "etcd.pid"
    with subprocess.Popen(["sleep", "30"]) as other:
        pidfile.write_text(f"{other.pid}\n")
        assert sandboxctl.running_pid(pidfile, "etcd") is None
        other.kill()
    assert not pidfile.exists()


def test_pid_file_of_the_running_binary_is_kept(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "sh.pid"
    with subprocess.Popen(["sh", "-c", "echo started; read never"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as ours:
        assert ours.stdout.readline() == "started\n"  # the shell has replaced the forked Python
        pidfile.write_text(f"{ours.pid}\n")
        assert sandboxctl.running_pid(pidfile, "sh") == ours.pid
        ours.kill()
    assert pidfile.exists()


def test_start_refuses_a_taken_port_and_names_its_owner() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        component = sandboxctl.Component("dummy", ["sleep", "30"], health=f"http://127.0.0.1:{port}/", port=port)
        with pytest.raises(sandboxctl.SandboxError, match=rf"port 127.0.0.1:{port} that dummy needs is taken by .*pid={os.getpid()},"):
            sandboxctl.start(component, ssl.create_default_context())
    assert not component.pidfile.exists()


def test_a_component_that_dies_during_start_up_shows_its_log() -> None:
    component = sandboxctl.Component(
        "dummy", ["sh", "-c", "echo 'listen tcp: address already in use' >&2; exit 3"], health="unix:/nonexistent"
    )
    with pytest.raises(sandboxctl.SandboxError, match="dummy exited during start-up(.|\n)*address already in use"):
        sandboxctl.start(component, ssl.create_default_context())
