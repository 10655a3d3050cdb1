"""The minikube role's start, addon and fact tasks, and playbooks/cluster-delete.yml, through real
ansible-playbook with the inventory/local, against a FAKE minikube (tests/integration/fakes/minikube)
that answers in minikube's output shapes and records its calls.

What this shows: which minikube commands the role runs in each profile state, that it runs
nothing on a second run, how the facts reach the slipway_* variables, and that the image phase
builds on the daemon `minikube docker-env` names, over TCP with TLS (the sandbox's Docker engine
serves that endpoint). What it cannot show: that real minikube accepts these flags and prints
exactly these shapes (no VM or registry here).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from playbook import run_playbook

FAKE = Path(__file__).parent / "fakes" / "minikube"
PLAYBOOK = "tests/integration/playbooks/minikube_start.yml"


# The fake's state once the role started the profile with the playbook's settings below.
STARTED = {"addons": {"default-storageclass": True, "storage-provisioner": True, "ingress": True,
                      "metrics-server": True},
           "status": "Running", "driver": "docker", "cpus": 2, "memory": 4096, "version": "v1.36.3",
           "runtime": "docker"}


class FakeMinikube:
    def __init__(self, root: Path) -> None:
        self.bin_dir = root / "bin"
        self.bin_dir.mkdir(parents=True)
        shutil.copy(FAKE, self.bin_dir / "minikube")
        self.state = root / "state.json"
        self.state.write_text(json.dumps({"profiles": {}, "calls": []}))
        self.kubeconfig = root / "kube" / "config"

    def read(self) -> dict:
        return json.loads(self.state.read_text())

    def calls(self) -> list[list[str]]:
        return self.read()["calls"]

    def changing_calls(self) -> list[list[str]]:
        reads = (["version"], ["profile", "list"], ["addons", "list"], ["docker-env"])
        return [call for call in self.calls() if not any(call[:len(read)] == read for read in reads)]

    def start_as_the_role_does(self) -> None:
        """The profile the role's first run leaves (test_creates_the_profile_then_leaves_it_alone
        checks it against a real run), written directly: the other tests begin from there."""
        self.state.write_text(json.dumps({"profiles": {"slipway": dict(STARTED)}, "calls": []}))

    def set_profile(self, **values) -> None:
        state = self.read()
        state["profiles"]["slipway"].update(values)
        state["calls"] = []
        self.state.write_text(json.dumps(state))

    def run(self, playbook: str = PLAYBOOK, options: tuple[str, ...] = (), **extra):
        return run_playbook(playbook, {"minikube_version": "v1.99.0", "minikube_bin_dir": str(self.bin_dir),
                                       "minikube_kubeconfig": str(self.kubeconfig), "minikube_memory": "4g",
                                       **extra}, *options, inventory="inventory/local")


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeMinikube:
    made = FakeMinikube(tmp_path)
    monkeypatch.setenv("FAKE_MINIKUBE_STATE", str(made.state))
    return made


def test_creates_the_profile_then_leaves_it_alone(fake: FakeMinikube) -> None:
    first = fake.run()
    assert first.returncode == 0, first.stderr
    assert fake.changing_calls() == [
        ["start", "--profile", "slipway", "--driver", "docker", "--cpus", "2", "--memory", "4g",
         "--kubernetes-version", "v1.36.3", "--container-runtime", "docker"],
        ["addons", "enable", "ingress", "--profile", "slipway"],
        ["addons", "enable", "metrics-server", "--profile", "slipway"],
    ]
    facts = first.results("Show the facts for the next phases")[0]["msg"]
    assert facts == {"kubeconfig": str(fake.kubeconfig), "context": "slipway",
                     "docker_host": "tcp://192.168.49.2:2376", "docker_cert_path": facts["docker_cert_path"]}
    assert facts["docker_cert_path"].endswith("/.minikube/certs")

    assert fake.read()["profiles"] == {"slipway": STARTED}

    fake.set_profile()
    second = fake.run()
    assert second.returncode == 0, second.stderr
    assert second.changed == 0
    assert fake.changing_calls() == []


def test_stopped_profile_is_started_and_paused_one_unpaused(fake: FakeMinikube) -> None:
    fake.start_as_the_role_does()
    fake.set_profile(status="Stopped")
    started = fake.run()
    assert started.returncode == 0 and started.changed == 1
    assert [call[0] for call in fake.changing_calls()] == ["start"]

    fake.set_profile(status="Paused")
    assert fake.run().returncode == 0
    assert fake.changing_calls() == [["unpause", "--profile", "slipway"]]


def test_changed_settings_fail_and_nothing_is_deleted(fake: FakeMinikube) -> None:
    fake.start_as_the_role_does()
    run = fake.run(minikube_cpus=4, minikube_kubernetes_version="v1.35.0")
    assert run.returncode != 0
    message = run.results("Stop on settings that only a re-create would change")[0]["msg"]
    assert "cpus: the profile has 2, the inventory wants 4" in message
    assert "kubernetes_version: the profile has 'v1.36.3', the inventory wants 'v1.35.0'" in message
    assert "cluster-delete.yml" in message
    assert fake.changing_calls() == []
    assert "slipway" in fake.read()["profiles"]


def test_cluster_delete_needs_confirmation(fake: FakeMinikube) -> None:
    fake.start_as_the_role_does()
    refused = fake.run("playbooks/cluster-delete.yml")
    assert refused.returncode != 0
    assert "confirm_delete=true" in refused.results("Refuse to delete without confirmation")[0]["msg"]
    assert fake.changing_calls() == []

    deleted = fake.run("playbooks/cluster-delete.yml", confirm_delete=True)
    assert deleted.returncode == 0, deleted.stderr
    assert fake.changing_calls() == [["delete", "--profile", "slipway"]]
    assert fake.read()["profiles"] == {}

    again = fake.run("playbooks/cluster-delete.yml", confirm_delete=True)
    assert again.returncode == 0 and again.changed == 0


def test_cluster_delete_refuses_other_cluster_types(fake: FakeMinikube) -> None:
    run = run_playbook("playbooks/cluster-delete.yml", {"confirm_delete": True}, inventory="inventory/sandbox")
    assert run.returncode != 0
    assert "sandbox" in run.results("Refuse to delete anything but a local cluster")[0]["msg"]


def build_over_tls(fake: FakeMinikube, context: Path, app: str):
    """site.yml's build phase on inventory/local, the daemon read from the fake's docker-env."""
    return fake.run("site.yml", ("--tags", "build"), **{
        "slipway_app_name": app, "slipway_app_namespace": app,
        "slipway_app_components": [{"name": "probe", "build": {"context": str(context)}}],
        "slipway_app_mongodb": {"enabled": False}, "slipway_app_redis": {"enabled": False}, "slipway_app_jobs": [],
    })


def stranger_ca() -> bytes:
    """A CA of nobody's: the daemon's certificate does not chain to it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def engine_tags(repository: str) -> list[str]:
    """The repository's tags on the sandbox's engine, listed through its Unix socket."""
    return subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository],
                          check=True, capture_output=True, text=True).stdout.split()


def test_the_images_build_on_the_nodes_daemon_over_tls(fake: FakeMinikube, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    certs = Path(os.environ["SLIPWAY_SANDBOX_DOCKER_CERT_PATH"])
    monkeypatch.setenv("FAKE_MINIKUBE_DOCKER_HOST", os.environ["SLIPWAY_SANDBOX_DOCKER_TLS_HOST"])
    monkeypatch.setenv("FAKE_MINIKUBE_DOCKER_CERT_PATH", str(certs))
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY app.txt /app.txt\n")
    (context / "app.txt").write_text(f"{uuid.uuid4()}\n")
    app = f"tls-{uuid.uuid4().hex[:8]}"
    repository = f"slipway/{app}-probe"
    try:
        built = build_over_tls(fake, context, app)
        assert built.returncode == 0, built.failures()
        reference = built.results("Build each image whose tag does not exist")[0]["source"]["reference"]
        assert engine_tags(repository) == [reference]

        # Client certificates right, but a CA the daemon's certificate does not chain to: refused.
        strangers = tmp_path / "stranger-certs"
        strangers.mkdir()
        shutil.copy(certs / "cert.pem", strangers / "cert.pem")
        shutil.copy(certs / "key.pem", strangers / "key.pem")
        (strangers / "ca.pem").write_bytes(stranger_ca())
        monkeypatch.setenv("FAKE_MINIKUBE_DOCKER_CERT_PATH", str(strangers))
        (context / "app.txt").write_text(f"{uuid.uuid4()}\n")
        refused = build_over_tls(fake, context, app)
        assert refused.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in json.dumps(refused.output)
        assert engine_tags(repository) == [reference]
    finally:
        subprocess.run(["docker", "image", "rm", *engine_tags(repository)], capture_output=True)
