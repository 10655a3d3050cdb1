"""The cluster_preflight role against the sandbox: the admin passes; a ServiceAccount whose Role
lacks one permission fails naming exactly that one; and the connection works from the K8S_AUTH_*
environment variables alone (no kubeconfig), as AWX's Kubernetes credential injects them."""

from __future__ import annotations

import base64
import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ansible.module_utils import app_model
from playbook import run_playbook

PLAYBOOK = "tests/integration/playbooks/preflight.yml"
REPO = Path(__file__).resolve().parents[2]
# What slipway needs, as the preflight reviews it and deployer-rbac.yml grants it.
PERMISSIONS = app_model.permissions({"namespace": "shop", "platform": "kubernetes"})
STOP = "Stop on an unsupported version or missing permissions"
_spec = importlib.util.spec_from_file_location("rbac_filters", REPO / "plugins" / "filter" / "rbac.py")
rbac_filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rbac_filters)


def rules(namespace: str, cluster: bool, without: tuple[str, str] | None = None) -> list[dict]:
    """The deployer's RBAC rules for `namespace` (the cluster-wide or the namespaced ones), less
    `without` (verb, resource)."""
    permissions = []
    for entry in PERMISSIONS:
        entry = {**entry, "name": namespace} if entry.get("name") else entry
        verbs = [verb for verb in entry["verbs"] if (verb, entry["resource"]) != without]
        if verbs:
            permissions.append({**entry, "verbs": verbs})
    return rbac_filters.rbac_rules(permissions, cluster=cluster)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The sandbox API server's URL and a file with its CA, read from the admin kubeconfig."""
    kubeconfig = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    cluster = kubeconfig["clusters"][0]["cluster"]
    if "certificate-authority-data" in cluster:
        ca = tmp_path_factory.mktemp("ca") / "ca.crt"
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        return cluster["server"], str(ca)
    return cluster["server"], cluster["certificate-authority"]


@pytest.fixture
def identity(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str) -> Iterator[Callable[..., str]]:
    """Make a ServiceAccount granted the default permissions (less one, if asked) and return its token."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    cluster_names: list[str] = []

    def make(without: tuple[str, str] | None = None) -> str:
        name = f"deployer-{uuid.uuid4().hex[:6]}"
        core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name)))
        subject = [client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)]
        rbac.create_namespaced_role(namespace, client.V1Role(
            metadata=client.V1ObjectMeta(name=name), rules=rules(namespace, False, without)))
        rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=name), subjects=subject,
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name)))
        cluster_name = f"slipway-test-{namespace}-{name}"
        cluster_names.append(cluster_name)
        rbac.create_cluster_role(client.V1ClusterRole(
            metadata=client.V1ObjectMeta(name=cluster_name), rules=rules(namespace, True, without)))
        rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=cluster_name), subjects=subject,
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=cluster_name)))
        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=900))
        return core.create_namespaced_service_account_token(name, namespace, request).status.token

    yield make
    for cluster_name in cluster_names:
        rbac.delete_cluster_role_binding(cluster_name)
        rbac.delete_cluster_role(cluster_name)


def token_kubeconfig(path: Path, server: tuple[str, str], token: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "deployer",
        "clusters": [{"name": "sandbox", "cluster": {"server": server[0], "certificate-authority": server[1]}}],
        "users": [{"name": "deployer", "user": {"token": token}}],
        "contexts": [{"name": "deployer", "context": {"cluster": "sandbox", "user": "deployer"}}],
    }))
    return str(path)


def test_admin_passes(namespace: str) -> None:
    run = run_playbook(PLAYBOOK, {"slipway_app_namespace": namespace})
    assert run.returncode == 0, run.stderr
    assert run.changed == 0
    report = run.results("Report the cluster")[0]["msg"]
    assert "Kubernetes v1.36.3" in report and f"in namespace {namespace}" in report
    # The namespace's rules settle every namespaced permission: access reviews only cluster-wide.
    reviews = run.results("Review what the deploy needs to do")[0]["reviews"]
    assert {review["reason"] for review in reviews if review["namespace"]} == {"granted by the namespace's rules"}
    assert all(review["allowed"] for review in reviews)


def test_missing_permission_is_named(namespace: str, identity, server, tmp_path: Path) -> None:
    kubeconfig = token_kubeconfig(tmp_path / "kubeconfig", server, identity(without=("create", "deployments")))
    run = run_playbook(PLAYBOOK, {"slipway_app_namespace": namespace,
                                  "cluster_preflight_kubeconfig": kubeconfig, "cluster_preflight_context": ""})
    assert run.returncode != 0
    reviewed = run.results("Review what the deploy needs to do")[0]
    assert reviewed["missing"] == [f"cannot create deployments.apps in namespace {namespace}"]
    message = run.results(STOP)[0]["msg"]
    assert message.splitlines() == [
        f"The deploy identity (current context of {kubeconfig}) is missing 1 permission(s):",
        f"cannot create deployments.apps in namespace {namespace}",
    ]


def test_every_missing_permission_is_listed_at_once(namespace: str, identity, server, tmp_path: Path) -> None:
    kubeconfig = token_kubeconfig(tmp_path / "kubeconfig", server, identity(without=("create", "namespaces")))
    run = run_playbook(PLAYBOOK, {"slipway_app_namespace": namespace, "cluster_preflight_kubeconfig": kubeconfig,
                                  "cluster_preflight_context": "", "cluster_preflight_min_version": "1.99"})
    assert run.returncode != 0
    lines = run.results(STOP)[0]["msg"].splitlines()
    assert lines[0] == "Kubernetes v1.36.3 is older than 1.99, the oldest version supported"
    assert lines[2:] == [f"cannot create namespaces/{namespace} (cluster-wide)"]


def test_awx_style_environment_without_kubeconfig(namespace: str, identity, server, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    token = identity()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(home))  # no ~/.kube/config to fall back to
    monkeypatch.setenv("K8S_AUTH_HOST", server[0])
    monkeypatch.setenv("K8S_AUTH_API_KEY", token)
    monkeypatch.setenv("K8S_AUTH_SSL_CA_CERT", server[1])
    for unset in ("SLIPWAY_KUBECONFIG", "SLIPWAY_KUBE_CONTEXT"):
        monkeypatch.delenv(unset, raising=False)
    # inventory/remote as AWX runs it: no kubeconfig variables, only the credential's K8S_AUTH_*.
    run = run_playbook(PLAYBOOK, {"slipway_app_namespace": namespace}, inventory="inventory/remote")
    assert run.returncode == 0, run.stderr
    assert run.results("Review what the deploy needs to do")[0]["missing"] == []
    assert f"(the token in K8S_AUTH_API_KEY for {server[0]})" in run.results("Report the cluster")[0]["msg"]
    assert not (home / ".kube").exists()

    monkeypatch.setenv("K8S_AUTH_API_KEY", "not-a-token")
    refused = run_playbook(PLAYBOOK, {"slipway_app_namespace": namespace}, inventory="inventory/remote")
    assert refused.returncode != 0
    message = refused.results("Stop when the API server cannot be asked")[0]["msg"]
    assert message.startswith("The API server refused the credentials, wrong, expired or revoked "
                              f"(the token in K8S_AUTH_API_KEY for {server[0]}):")
    assert "401 Unauthorized" in message and "not-a-token" not in message


def test_remote_inventory_with_a_kubeconfig_from_the_environment(namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_KUBECONFIG", os.environ["KUBECONFIG"])
    monkeypatch.setenv("SLIPWAY_KUBE_CONTEXT", "slipway-sandbox")
    monkeypatch.delenv("KUBECONFIG")
    run = run_playbook(PLAYBOOK, {"slipway_app_namespace": namespace}, inventory="inventory/remote")
    assert run.returncode == 0, run.stderr
    assert run.results("Report the cluster")[0]["msg"].startswith("remote cluster (context slipway-sandbox of ")


def test_unreachable_api_is_reported_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("KUBECONFIG", raising=False)
    # The sandbox inventory names its images by the binaries in the cache, found from HOME.
    monkeypatch.setenv("SLIPWAY_CACHE", os.environ.get("SLIPWAY_CACHE", str(Path.home() / ".cache" / "slipway")))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("K8S_AUTH_HOST", "https://127.0.0.1:1")
    monkeypatch.setenv("K8S_AUTH_API_KEY", "unused")
    run = run_playbook(PLAYBOOK, {"cluster_preflight_kubeconfig": "", "cluster_preflight_context": ""})
    assert run.returncode != 0
    message = run.results("Stop when the API server cannot be asked")[0]["msg"]
    assert message.startswith("The Kubernetes API server does not answer "
                              "(the token in K8S_AUTH_API_KEY for https://127.0.0.1:1):")
    assert "Connection refused" in message
