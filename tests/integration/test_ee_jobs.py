"""The execution environment for real: ee/build.sh builds execution-environment.yml with
ansible-builder on the sandbox's Docker engine (from a base made locally, nothing pulled; a
re-run with unchanged inputs reuses the image), the image holds exactly the versions
requirements.txt pins, and AWX-style jobs run inside it against the sandbox: Deploy (site.yml)
and Drift (playbooks/drift.yml, job type Check) with inventory/remote as the deployer
ServiceAccount (K8S_AUTH_* only), building on the sandbox engine over TLS, pushing to the
sandbox registry, the real node pulling with the pull Secret.

Each job runs as AWX runs one: a private data dir (project, inventory, env/extravars,
env/envvars, env/cmdline, credential files) mounted at /runner in the EE container, and
`ansible-runner run` inside it; the test reads the job's artifacts (status, rc, job events).
The container shares the host's network: the API server, the registry and the engine listen on
127.0.0.1 or the sandbox bridge.

The tests share one deployment and run in the order written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from awxjob import AwxJob, kubernetes_credential, prepare_job, read_job
from deployer import TINY_COMPONENTS, grant_deployer, revoke_deployer, tiny_app
from playbook import REPO

ROOT = Path(REPO)
REGISTRY = os.environ["SLIPWAY_SANDBOX_REGISTRY"]
USERNAME = os.environ["SLIPWAY_SANDBOX_REGISTRY_USERNAME"]
PASSWORD = os.environ["SLIPWAY_SANDBOX_REGISTRY_PASSWORD"]
CA_CERT = Path(os.environ["SLIPWAY_SANDBOX_CA_CERT"])
DOCKER_TLS_HOST = os.environ["SLIPWAY_SANDBOX_DOCKER_TLS_HOST"]
DOCKER_CERT_PATH = Path(os.environ["SLIPWAY_SANDBOX_DOCKER_CERT_PATH"])
PINNED = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.startswith("#"))
# The image's Python packages from requirements.txt (tests/unit/test_execution_environment.py
# keeps the definition's list and this one in step).
EE_PACKAGES = ("ansible-core", "ansible-runner", "ansible", "kubernetes", "docker")
COLLECTIONS = {c["name"]: c["version"] for c in
               yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]}
# The image's user (ansible-builder's USER 1000), which owns the private data dir as AWX's does.
EE_UID = 1000
JOB_TIMEOUT = 900




def build_ee() -> subprocess.CompletedProcess:
    """ee/build.sh with this venv's pip and ansible-builder."""
    return subprocess.run([str(ROOT / "ee" / "build.sh")], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable,
                               "ANSIBLE_BUILDER": str(Path(sys.executable).parent / "ansible-builder")})


def image_id(reference: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", reference], capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def image() -> dict:
    """The EE image, built by ee/build.sh (or found, when its inputs are unchanged: a warm suite
    pays only for computing the tag)."""
    built = build_ee()
    assert built.returncode == 0, built.stderr
    return {"tag": built.stdout.strip().splitlines()[-1]}


def in_image(image: dict, *command: str) -> str:
    ran = subprocess.run(["docker", "run", "--rm", image["tag"], *command], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def test_a_rebuild_with_unchanged_inputs_reuses_the_image(image: dict) -> None:
    before = image_id(image["tag"])
    again = build_ee()
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == image["tag"]
    assert "ee/build: building" not in again.stderr
    assert image_id(image["tag"]) == before
    inspected = json.loads(subprocess.run(["docker", "image", "inspect", image["tag"]], capture_output=True,
                                          text=True, check=True).stdout)[0]
    assert inspected["Config"]["Labels"]["ansible-execution-environment"] == "true"
    assert inspected["Config"]["User"] == str(EE_UID)
    # Nothing pulled: built on the locally made base.
    base = subprocess.run([str(ROOT / "sandbox" / "make-image.sh"), "ee-base", "--print-tag"],
                          capture_output=True, text=True, check=True).stdout.strip()
    history = subprocess.run(["docker", "image", "history", "--no-trunc", "--format", "{{.ID}}", image["tag"]],
                             capture_output=True, text=True, check=True).stdout.split()
    assert image_id(base) in history


def test_the_image_has_exactly_the_pinned_versions(image: dict) -> None:
    printed = in_image(image, "bash", "-c", (
        "ansible-galaxy collection list --format json && echo ---- && "
        "python3.11 -c 'import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))' " + " ".join(EE_PACKAGES)))
    collections_json, packages_json = printed.split("\n----\n")
    assert json.loads(packages_json) == {name: PINNED[name] for name in EE_PACKAGES}
    found: dict[str, set[str]] = {}
    for path in json.loads(collections_json).values():
        for name, info in path.items():
            found.setdefault(name, set()).add(info["version"])
    # One version of each, the pinned one: no other copy shadows it anywhere ansible looks.
    assert {name: found.get(name) for name in COLLECTIONS} == {name: {v} for name, v in COLLECTIONS.items()}


@pytest.fixture(scope="module")
def awx(api_client: client.ApiClient, core: client.CoreV1Api, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The deployer's identity (as an AWX credential injects it) and a two-component app.

    The build contexts are a folder of the host's, mounted at the same path in the EE, so the
    variables' paths hold inside it too."""
    name = f"ee-{uuid.uuid4().hex[:6]}"
    contexts = tmp_path_factory.mktemp("contexts")
    # Readable by the EE's user (pytest makes it 0700).
    contexts.chmod(0o755)
    variables = tiny_app(name, contexts)
    token = grant_deployer(core, variables)
    yield {"name": name, "vars": variables, "contexts": contexts,
           "credential": kubernetes_credential(api_client.configuration, token)}
    core.delete_namespace(name)
    revoke_deployer(api_client, name)


def registry_and_engine(awx: dict) -> dict[str, str]:
    """The registry (a repository path of this module's own) and the sandbox engine over TCP
    with TLS both ways, as a remote build daemon is reached; the files' paths are the job's."""
    return {"SLIPWAY_REGISTRY": f"{REGISTRY}/{awx['name']}", "SLIPWAY_REGISTRY_USERNAME": USERNAME,
            "SLIPWAY_REGISTRY_PASSWORD": PASSWORD, "DOCKER_HOST": DOCKER_TLS_HOST, "DOCKER_TLS_VERIFY": "1"}


def run_in_ee(image: dict, awx: dict, tmp_path: Path, playbook: str, cmdline: str = "") -> AwxJob:
    """A job of `playbook` run inside the EE as AWX runs it; its artifacts read back."""
    # Credential files live in the private data dir, as AWX writes them; the variables name
    # their paths inside the container.
    credentials = "/runner/env/credentials"
    envvars = {
        **awx["credential"], "K8S_AUTH_SSL_CA_CERT": f"{credentials}/k8s-ca.crt",
        "SLIPWAY_REGISTRY_CA_CERT": f"{credentials}/registry-ca.crt", "DOCKER_CERT_PATH": f"{credentials}/docker",
        # The job's HOME, the one prepare_job makes, as the container sees it.
        "HOME": "/runner/home",
    }
    private = prepare_job(tmp_path, playbook, extravars=awx["vars"], envvars={**registry_and_engine(awx), **envvars},
                          cmdline=cmdline, inventory="inventory/remote")
    files = private / "env" / "credentials"
    (files / "docker").mkdir(parents=True)
    shutil.copy(awx["credential"]["K8S_AUTH_SSL_CA_CERT"], files / "k8s-ca.crt")
    shutil.copy(CA_CERT, files / "registry-ca.crt")
    for each in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(DOCKER_CERT_PATH / each, files / "docker" / each)
    subprocess.run(["chown", "-R", f"{EE_UID}:0", str(private)], check=True)
    ident = f"{Path(playbook).stem}-{uuid.uuid4().hex[:6]}"
    container = f"slipway-ee-job-{ident}"
    try:
        ran = subprocess.run(["docker", "run", "--rm", "--name", container, "--network", "host",
                              "-v", f"{private}:/runner", "-v", f"{awx['contexts']}:{awx['contexts']}:ro", image["tag"],
                              # runner's options as tests/awxjob.py's run_job gives them (as AWX does).
                              "ansible-runner", "run", "/runner", "--playbook", playbook, "--ident", ident,
                              "--omit-env-files", "--quiet"],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=JOB_TIMEOUT)
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    assert (private / "artifacts" / ident / "status").exists(), ran.stdout[-3000:] + ran.stderr
    return read_job(private, ident)


@pytest.fixture(scope="module")
def deployed(image: dict, awx: dict, tmp_path_factory: pytest.TempPathFactory) -> AwxJob:
    return run_in_ee(image, awx, tmp_path_factory.mktemp("deploy"), "site.yml")


def test_the_deploy_job_pushes_and_the_node_pulls(deployed: AwxJob, awx: dict, core: client.CoreV1Api,
                                                  apps: client.AppsV1Api) -> None:
    assert (deployed.status, deployed.rc) == ("successful", 0), deployed.failures()
    built = deployed.results("Name each image by its repository and source tag")[0]["ansible_facts"]["image_build_refs"]
    assert sorted(built) == sorted(TINY_COMPONENTS)
    assert all(ref.startswith(f"{REGISTRY}/{awx['name']}/") for ref in built.values())
    for each in TINY_COMPONENTS:
        deployment = apps.read_namespaced_deployment(each, awx["name"])
        assert deployment.spec.template.spec.containers[0].image == built[each]
        assert deployment.status.ready_replicas == 1
    events = core.list_namespaced_event(awx["name"], field_selector="reason=Pulled").items
    pulls = {e.message.split('"')[1] for e in events if e.message.startswith("Successfully pulled image")}
    assert pulls == set(built.values())


def test_the_drift_job_finds_no_drift(deployed: AwxJob, image: dict, awx: dict,
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    drift = run_in_ee(image, awx, tmp_path_factory.mktemp("drift"), "playbooks/drift.yml", cmdline="--check")
    assert (drift.status, drift.rc) == ("successful", 0), drift.failures()
    verdict = drift.results("Fail when the cluster drifted")
    assert [r["msg"] for r in verdict] == [f"Namespace {awx['name']} matches the app's description"]
