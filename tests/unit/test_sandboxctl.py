"""sandboxctl's handling of bad states (stale pid files, taken ports, a process that dies) and
how it makes kwok the nodes' kubelet for container logs."""

from __future__ import annotations

import datetime
import os
import re
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sandbox"))
from slipway_sandbox import control_plane, layout, supervisor  # noqa: E402
from slipway_sandbox.layout import HERE, KUBELET_ADDRESS, PKI, PORTS, SandboxError  # noqa: E402


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "RUN", tmp_path / "run")
    monkeypatch.setattr(layout, "LOGS", tmp_path / "logs")
    (tmp_path / "run").mkdir()


def test_pid_file_of_an_exited_process_is_stale(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "etcd.pid"
    pidfile.write_text("999999999\n")  # above the kernel's pid_max: never a live process
    assert supervisor.running_pid(pidfile, "etcd") is None
    assert not pidfile.exists()


def test_pid_file_naming_another_program_is_stale(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "etcd.pid"
    with subprocess.Popen(["sleep", "30"]) as other:
        pidfile.write_text(f"{other.pid}\n")
        assert supervisor.running_pid(pidfile, "etcd") is None
        other.kill()
    assert not pidfile.exists()


def test_pid_file_of_the_running_binary_is_kept(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "sh.pid"
    with subprocess.Popen(["sh", "-c", "echo started; read never"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as ours:
        assert ours.stdout.readline() == "started\n"  # the shell has replaced the forked Python
        pidfile.write_text(f"{ours.pid}\n")
        assert supervisor.running_pid(pidfile, "sh") == ours.pid
        ours.kill()
    assert pidfile.exists()


def test_start_refuses_a_taken_port_and_names_its_owner() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        component = supervisor.Component("dummy", ["sleep", "30"], health=f"http://127.0.0.1:{port}/", port=port)
        with pytest.raises(SandboxError, match=rf"port 127.0.0.1:{port} that dummy needs is taken by .*pid={os.getpid()},"):
            supervisor.start(component, ssl.create_default_context())
    assert not component.pidfile.exists()


def test_a_component_that_dies_during_start_up_shows_its_log() -> None:
    component = supervisor.Component(
        "dummy", ["sh", "-c", "echo 'listen tcp: address already in use' >&2; exit 3"], health="unix:/nonexistent"
    )
    with pytest.raises(SandboxError, match="dummy exited during start-up(.|\n)*address already in use"):
        supervisor.start(component, ssl.create_default_context())


def fake_node(addresses: list[dict], port: int = 0) -> dict:
    return {"metadata": {"name": "sandbox-node-0"},
            "status": {"addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


DERIVED = [{"type": "InternalIP", "address": "10.255.35.126"}, {"type": "Hostname", "address": "sandbox-node-0"}]


def test_a_node_without_kwoks_endpoint_gets_it_and_keeps_its_addresses() -> None:
    patch = control_plane.kubelet_endpoint_patch(fake_node(DERIVED))
    assert patch == {"status": {
        "addresses": [*DERIVED, {"type": "ExternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": PORTS["kwok"]}},
    }}


def test_a_node_pointing_at_kwok_is_left_alone() -> None:
    pointed = fake_node([*DERIVED, KUBELET_ADDRESS], port=PORTS["kwok"])
    assert control_plane.kubelet_endpoint_patch(pointed) is None


def test_another_external_ip_is_replaced_and_a_right_port_not_patched() -> None:
    node = fake_node([*DERIVED, {"type": "ExternalIP", "address": "192.0.2.7"}], port=PORTS["kwok"])
    assert control_plane.kubelet_endpoint_patch(node) == {
        "status": {"addresses": [*DERIVED, KUBELET_ADDRESS]}}


def component_named(name: str) -> "supervisor.Component":
    return next(c for c in control_plane.components(Path("/bin-dir")) if c.name == name)


def test_the_api_server_reaches_kubelets_by_the_address_sandboxctl_gives_the_nodes() -> None:
    argv = component_named("kube-apiserver").argv
    # kwok's nodes by the ExternalIP sandboxctl gives them, the real node by its InternalIP.
    assert f"--kubelet-preferred-address-types={KUBELET_ADDRESS['type']},InternalIP" in argv
    assert f"--kubelet-certificate-authority={PKI / 'ca.crt'}" in argv


def test_kwok_serves_https_on_loopback_with_the_logs_config() -> None:
    kwok = component_named("kwok")
    port = PORTS["kwok"]
    assert f"--server-address=127.0.0.1:{port}" in kwok.argv
    assert f"--node-port={port}" in kwok.argv
    assert f"--tls-cert-file={PKI / 'serving.crt'}" in kwok.argv
    assert f"--config={HERE / 'logs' / 'cluster-logs.yaml'}" in kwok.argv
    assert kwok.cwd == HERE


CRI_LINE = re.compile(r"(?P<time>\S+) (stdout|stderr) F .*")


def test_every_log_file_kwok_serves_exists_in_the_cri_format() -> None:
    configs = [doc for path in sorted((HERE / "logs").glob("*.yaml"))
               for doc in yaml.safe_load_all(path.read_text()) if doc]
    files = [entry[key] for doc in configs for entry in doc["spec"]["logs"]
             for key in ("logsFile", "previousLogsFile") if key in entry]
    assert files
    for name in files:
        # kwok runs in sandbox/ and resolves relative paths there.
        lines = (HERE / name).read_text().splitlines()
        assert lines, name
        for line in lines:
            match = CRI_LINE.fullmatch(line)
            assert match, f"{name}: not a CRI log line: {line!r}"
            datetime.datetime.fromisoformat(match["time"].replace("Z", "+00:00"))
