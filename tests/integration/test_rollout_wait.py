"""rollout_wait against the sandbox cluster's simulated nodes, through real ansible-playbook runs.

Faults come from the sandbox's kwok stages (pod annotation sandbox.slipway.dev/fault), real
admission (Pod Security) and the real scheduler (a request no node can hold); every pod here
is placed on kwok's nodes. Failures a real node makes are in test_rollout_wait_real.py.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from urllib.parse import urlparse

import pytest
import yaml
from kubernetes import client

from kubewait import wait_for
from playbook import REPO, PlaybookRun, run_playbook
from slipway_sandbox.layout import KWOK_PLACEMENT

PLAYBOOK = "tests/integration/playbooks/rollout_wait.yml"
SANDBOXCTL = os.path.join(REPO, "sandbox", "sandboxctl.py")
TASK = "Wait for the rollouts"
IMAGE = "registry.example/slipway/web:1"
# Generous: every fault below must be reported long before it.
TIMEOUT = 120


def pod_template(app: str, fault: str | None, image: str, **spec) -> dict:
    metadata = {"labels": {"app": app}}
    if fault:
        metadata["annotations"] = {"sandbox.slipway.dev/fault": fault}
    return {"metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": image}], **KWOK_PLACEMENT, **spec}}


def deployment(name: str, fault: str | None = None, image: str = IMAGE, replicas: int = 2,
               **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"release": "shop"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": pod_template(name, fault, image), **spec}}


def statefulset(name: str, fault: str | None = None, image: str = IMAGE) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "labels": {"release": "shop"}},
            "spec": {"replicas": 2, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": pod_template(name, fault, image)}}


def daemonset(name: str, fault: str | None = None, image: str = IMAGE) -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "labels": {"release": "shop"}},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": pod_template(name, fault, image)}}


def job(name: str, fault: str | None = None) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "labels": {"release": "shop"}},
            "spec": {"backoffLimit": 0,
                     "template": pod_template(name, fault, IMAGE, restartPolicy="Never")}}


def roll_out(namespace: str, manifests: list, **options) -> tuple[PlaybookRun, dict]:
    run = run_playbook(PLAYBOOK, {"rollout_namespace": namespace, "rollout_manifests": manifests,
                                  "rollout_options": {"timeout": TIMEOUT, **options}})
    [result] = run.results(TASK)
    return run, result


def only_target(result: dict) -> dict:
    [target] = result["targets"]
    return target


def test_each_kind_completes_in_one_call(namespace: str) -> None:
    manifests = [deployment("web"), statefulset("db"), daemonset("agent"), job("migrate")]
    run, result = roll_out(namespace, manifests, targets=["deployment/web", "sts/db", "ds/agent",
                                                          "job/migrate"])
    assert run.returncode == 0, result.get("msg")
    assert [(t["kind"], t["status"]) for t in result["targets"]] == [
        ("Deployment", "complete"), ("StatefulSet", "complete"), ("DaemonSet", "complete"),
        ("Job", "complete")]
    assert result["changed"] is False
    assert all(t["spec_to_ready_seconds"] is not None for t in result["targets"])
    assert result["targets"][0]["revision"] == 1


def test_selector_waits_for_every_matching_workload(namespace: str) -> None:
    run, result = roll_out(namespace, [deployment("web"), deployment("api"), statefulset("db")],
                           selector="release=shop")
    assert run.returncode == 0, result.get("msg")
    assert sorted((t["kind"], t["name"]) for t in result["targets"]) == [
        ("Deployment", "api"), ("Deployment", "web"), ("StatefulSet", "db")]


def upgrade(namespace: str, healthy: dict, broken: dict, **options) -> dict:
    """Roll out a healthy revision, then a broken one; return the broken rollout's target."""
    targets = [f"{healthy['kind']}/{healthy['metadata']['name']}"]
    first, result = roll_out(namespace, [healthy], targets=targets)
    assert first.returncode == 0, result.get("msg")
    run, result = roll_out(namespace, [broken], targets=targets, **options)
    assert run.returncode != 0, "the broken rollout did not fail the task"
    target = only_target(result)
    assert result["msg"] == target["message"]
    return target


def test_crash_loop_fails_fast(namespace: str) -> None:
    target = upgrade(namespace, deployment("web"), deployment("web", fault="crashloop"))
    assert target["status"] == "failed"
    assert target["reason"] == "CrashLoopBackOff"
    assert target["message"].startswith("deployment/web: ")
    assert "new pods CrashLoopBackOff (exit 1)" in target["message"]
    assert target["waited_seconds"] < 20
    assert target["revision"] == 2
    new_pods = [p for p in target["diagnosis"]["pods"] if p["revision"] == "new"]
    assert new_pods and all(p["containers"][0]["restart_count"] >= 2 for p in new_pods)
    # The crashed container's previous log, served by kwok from sandbox/logs/, ends the message.
    crash = "RuntimeError: sandbox fault: crashloop (simulated container exit 1)"
    log = target["diagnosis"]["logs"][0]
    assert log["previous"] is True
    assert log["lines"][-1] == crash
    assert target["message"].endswith(f'"{crash}"')


def test_image_pull_failure_fails_fast(namespace: str) -> None:
    target = upgrade(namespace, deployment("web"), deployment("web", fault="imagepull"))
    assert target["reason"] in ("ErrImagePull", "ImagePullBackOff")
    assert target["waited_seconds"] < 10
    assert "not found" in target["message"] or "Back-off pulling image" in target["message"]


def test_a_claim_that_cannot_be_provisioned_is_named(namespace: str) -> None:
    db = statefulset("db")
    db["spec"]["volumeClaimTemplates"] = [{
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                 "resources": {"requests": {"storage": "1Mi"}}}}]
    run, result = roll_out(namespace, [db], targets=["statefulset/db"])
    assert run.returncode != 0
    target = only_target(result)
    assert target["reason"] == "ProvisioningFailed"
    assert "PersistentVolumeClaim data-db-0: " in target["message"]
    assert "no-such-class" in target["message"]
    # After the claim's grace (15 s), not at the timeout.
    assert target["waited_seconds"] < TIMEOUT


def test_never_ready_fails_at_the_progress_deadline(namespace: str) -> None:
    target = upgrade(namespace, deployment("web", progressDeadlineSeconds=10),
                     deployment("web", fault="never-ready", progressDeadlineSeconds=10))
    assert target["reason"] == "ProgressDeadlineExceeded"
    assert "new pods Running but not Ready" in target["message"]
    assert target["waited_seconds"] < 40


def test_never_ready_at_the_timeout_says_what_is_stuck(namespace: str) -> None:
    target = upgrade(namespace, deployment("web"), deployment("web", fault="never-ready"), timeout=8)
    assert target["status"] == "timed_out"
    assert target["reason"] == "NotReady"
    assert target["message"].startswith("deployment/web: timed out after 8s: ")


def test_job_failure_fails_with_its_reason(namespace: str) -> None:
    run, result = roll_out(namespace, [job("migrate", fault="job-fail")], targets=["job/migrate"])
    assert run.returncode != 0
    target = only_target(result)
    assert target["reason"] == "BackoffLimitExceeded"
    assert target["message"].startswith("job/migrate: BackoffLimitExceeded (1 failed pod, exit 1)")
    assert target["waited_seconds"] < 20


def refused_single_pod(namespace: str, **container) -> dict:
    """A one-pod Deployment whose container has `container`'s settings; its failed target."""
    web = deployment("web", replicas=1)
    web["spec"]["template"]["spec"]["containers"][0].update(container)
    run, result = roll_out(namespace, [web], targets=["deployment/web"])
    assert run.returncode != 0
    target = only_target(result)
    assert target["waited_seconds"] < 20
    return target


def test_unschedulable_fails_fast(namespace: str) -> None:
    target = refused_single_pod(namespace, resources={"requests": {"cpu": "64"}})
    assert target["reason"] == "Unschedulable"
    assert "Insufficient cpu" in target["message"]


@pytest.mark.parametrize("namespace", [{"pod-security.kubernetes.io/enforce": "restricted"}],
                         indirect=True)
def test_pod_security_denial_fails_fast(namespace: str) -> None:
    target = refused_single_pod(namespace, securityContext={"privileged": True})
    assert target["reason"] == "FailedCreate"
    assert "violates PodSecurity" in target["message"]


def test_rollback_restores_the_previous_revision(namespace: str, apps: client.AppsV1Api) -> None:
    target = upgrade(namespace, deployment("web"), deployment("web", fault="crashloop"),
                     rollback_on_failure=True)
    assert target["reason"] == "CrashLoopBackOff"
    assert target["rollback"]["status"] == "complete"
    assert target["rollback"]["to_revision"] == 1
    assert target["message"].endswith("; rolled back to revision 1: complete")
    restored = apps.read_namespaced_deployment("web", namespace)
    assert not (restored.spec.template.metadata.annotations or {}).get("sandbox.slipway.dev/fault")
    assert restored.metadata.annotations["deployment.kubernetes.io/revision"] == "3"


def test_rollback_of_a_statefulset(namespace: str, apps: client.AppsV1Api) -> None:
    target = upgrade(namespace, statefulset("db"), statefulset("db", fault="crashloop"),
                     rollback_on_failure=True)
    # The crash-looping pod blocks an OrderedReady StatefulSet: the rollback must replace it.
    assert target["rollback"]["status"] == "complete", target["message"]
    restored = apps.read_namespaced_stateful_set("db", namespace)
    assert restored.status.update_revision == restored.status.current_revision
    assert not (restored.spec.template.metadata.annotations or {}).get("sandbox.slipway.dev/fault")


def test_rollback_of_a_daemonset(namespace: str, apps: client.AppsV1Api) -> None:
    target = upgrade(namespace, daemonset("agent"), daemonset("agent", fault="crashloop"),
                     rollback_on_failure=True)
    assert target["rollback"]["status"] == "complete"
    restored = apps.read_namespaced_daemon_set("agent", namespace)
    assert not (restored.spec.template.metadata.annotations or {}).get("sandbox.slipway.dev/fault")


def test_missing_target_is_reported(namespace: str) -> None:
    run, result = roll_out(namespace, [], targets=["deployment/nope"])
    assert run.returncode != 0
    assert result["msg"] == f"deployment/nope not found in namespace {namespace}"


def test_wrong_kind_is_refused(namespace: str) -> None:
    run, result = roll_out(namespace, [], targets=["service/web"])
    assert run.returncode != 0
    assert result["msg"].startswith("unsupported kind 'service'")


def test_bad_credentials_are_named(namespace: str) -> None:
    with open(os.environ["KUBECONFIG"]) as handle:
        server = yaml.safe_load(handle)["clusters"][0]["cluster"]["server"]
    run, result = roll_out(namespace, [], targets=["deployment/web"], host=server,
                           api_key="not-a-valid-token", validate_certs=False)
    assert run.returncode != 0
    assert result["msg"].startswith("authentication failed (401 Unauthorized)")
    assert "not-a-valid-token" not in run.stderr + str(run.output)


def test_rbac_denial_names_the_verb_and_resource(namespace: str) -> None:
    run, result = roll_out(namespace, [deployment("web")], targets=["deployment/web"],
                           impersonate_user="system:serviceaccount:default:nobody")
    assert run.returncode != 0
    assert re.match(rf"RBAC denied: cannot (list|watch) \w+ in namespace {namespace}: ", result["msg"])


def test_connection_options_come_from_k8s_auth_variables(namespace: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", os.environ["KUBECONFIG"])
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    run, result = roll_out(namespace, [deployment("web")], targets=["deployment/web"])
    assert run.returncode == 0, result.get("msg")


def test_check_mode_reports_without_waiting(namespace: str) -> None:
    run = run_playbook(PLAYBOOK, {"rollout_namespace": namespace, "rollout_manifests": [],
                                  "rollout_options": {"targets": ["deployment/web"]}}, "--check")
    [result] = run.results(TASK)
    assert run.returncode == 0
    assert only_target(result)["status"] == "missing"


# --- the API server going away mid-wait ------------------------------------------------------


class RestartableProxy:
    """A TCP forwarder in front of the API server that can drop every connection and refuse new
    ones, which is what a client sees while the API server restarts."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = 0
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._changed = threading.Condition()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        # shutdown() first: close() alone neither wakes a blocked accept() nor frees the port.
        for sock in [self._listener, *self.connections]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.connections = []

    def wait_for_connections(self, count: int, timeout: float = 30) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.accepted >= count, timeout), (
                f"only {self.accepted} connections reached the proxy")

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:  # the API server is restarting: the client sees a refused connection
                downstream.close()
                continue
            self.connections += [downstream, upstream]
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()
            with self._changed:
                self.accepted += 1
                self._changed.notify_all()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()


@contextlib.contextmanager
def waiting_through_proxy(namespace: str):
    """Run rollout_wait for deployment/web in a thread, its API traffic through a RestartableProxy.

    Yields the proxy once the module's informers (deployments, pods, events, replicasets) are
    watching, then the outcome dict, filled with the run and its result when the wait ends.
    """
    with open(os.environ["KUBECONFIG"]) as handle:
        kubeconfig = yaml.safe_load(handle)
    cluster = kubeconfig["clusters"][0]["cluster"]
    server = urlparse(cluster["server"])
    proxy = RestartableProxy((server.hostname, server.port))
    proxy.start()
    cluster["server"] = f"https://{server.hostname}:{proxy.port}"
    if "certificate-authority" in cluster:  # keep it usable from the temporary file
        with open(cluster.pop("certificate-authority"), "rb") as authority:
            cluster["certificate-authority-data"] = base64.b64encode(authority.read()).decode()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as proxied:
        yaml.safe_dump(kubeconfig, proxied)
        proxied.flush()
        outcome: dict = {}
        waiting = threading.Thread(target=lambda: outcome.update(zip(("run", "result"), roll_out(
            namespace, [], targets=["deployment/web"], wait_for_creation=90, timeout=120,
            kubeconfig=proxied.name))))
        waiting.start()
        proxy.wait_for_connections(4)
        yield proxy, outcome
        waiting.join(timeout=150)
        assert not waiting.is_alive()
    proxy.stop()


def assert_completed_across_reconnects(outcome: dict) -> None:
    run, result = outcome["run"], outcome["result"]
    assert run.returncode == 0, result.get("msg")
    assert only_target(result)["status"] == "complete"
    assert result["watch_restarts"] >= 4


def test_dropped_connections_mid_wait_do_not_break_the_wait(
        namespace: str, apps: client.AppsV1Api) -> None:
    with waiting_through_proxy(namespace) as (proxy, outcome):
        proxy.stop()
        # While the API server is unreachable, the rollout happens.
        apps.create_namespaced_deployment(namespace, deployment("web"))
        wait_for(apps.list_namespaced_deployment, lambda d: (d.status.available_replicas or 0) == 2,
                 namespace=namespace)
        proxy.start()
    assert_completed_across_reconnects(outcome)


def namespaced_watchers(resource: str) -> int:
    """How many namespace-scoped watches of `resource` the API server is serving now."""
    with open(os.environ["KUBECONFIG"]) as handle:
        kubeconfig = yaml.safe_load(handle)
    cluster = kubeconfig["clusters"][0]["cluster"]
    user = kubeconfig["users"][0]["user"]
    context = ssl.create_default_context(cafile=cluster["certificate-authority"])
    context.load_cert_chain(user["client-certificate"], user["client-key"])
    with urllib.request.urlopen(f"{cluster['server']}/metrics", context=context, timeout=10) as response:
        metrics = response.read().decode()
    pattern = re.compile(r'^apiserver_longrunning_requests\{[^}]*resource="%s",scope="namespace"[^}]*'
                         r'verb="WATCH"[^}]*\} (\d+)$' % resource, re.M)
    return sum(int(count) for count in pattern.findall(metrics))


@pytest.mark.serial
def test_api_server_restart_mid_wait_does_not_break_the_wait(
        namespace: str, apps: client.AppsV1Api) -> None:
    before = namespaced_watchers("deployments")
    outcome: dict = {}
    waiting = threading.Thread(target=lambda: outcome.update(zip(("run", "result"), roll_out(
        namespace, [], targets=["deployment/web"], wait_for_creation=120, timeout=150))))
    waiting.start()
    # The module is waiting once the API server serves its watch of deployments.
    deadline = time.monotonic() + 60
    while namespaced_watchers("deployments") <= before:
        assert time.monotonic() < deadline, "rollout_wait never started watching deployments"
    # The real thing: the sandbox's kube-apiserver process is stopped and started again.
    subprocess.run([sys.executable, SANDBOXCTL, "restart", "kube-apiserver"], check=True, capture_output=True)
    apps.create_namespaced_deployment(namespace, deployment("web"))
    waiting.join(timeout=180)
    assert not waiting.is_alive()
    assert_completed_across_reconnects(outcome)
