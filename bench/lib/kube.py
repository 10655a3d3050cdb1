"""The bench's own view of the sandbox: namespaces, workloads, fake nodes, and what the API
server counts.

The bench watches the API itself (never polls it) so that the moments it compares waiters
against - a pod turning Ready, a container first in CrashLoopBackOff, a rollout completing - are
known to the millisecond, independently of the waiter being measured.
"""

from __future__ import annotations

import base64
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from urllib3.exceptions import ProtocolError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sandbox"))
from slipway_sandbox.layout import KWOK_PLACEMENT, KWOK_TAINT  # noqa: E402  (the sandbox's package, by the path above)

IMAGE = "bench.invalid/app:1"  # kwok never pulls: any reference will do
REVISION_ANNOTATION = "bench.slipway.dev/revision"
FAULT_ANNOTATION = "sandbox.slipway.dev/fault"
IDENTITY_NAMESPACE = "bench-identity"
# Above every built-in FlowSchema but `exempt` and `probes`, so each bench identity's requests
# are counted under a schema of its own.
FLOW_SCHEMA_PRECEDENCE = 50


class Cluster:
    """Clients for the sandbox, from KUBECONFIG (the admin identity of `make sandbox-env`)."""

    def __init__(self) -> None:
        config.load_kube_config()
        self.api = client.ApiClient()
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.version = client.VersionApi(self.api).get_code().git_version

    # --- namespaces ---------------------------------------------------------------------

    def create_namespace(self, name: str) -> None:
        """Create an empty namespace, first deleting a leftover of an interrupted run."""
        self.delete_namespace(name)
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def delete_namespace(self, name: str, timeout: float = 600) -> None:
        """Delete a namespace and return once the API server has removed it (watched)."""
        try:
            self.core.delete_namespace(name)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        stream = watch.Watch()
        for event in stream.stream(self.core.list_namespace, field_selector=f"metadata.name={name}",
                                   timeout_seconds=int(timeout)):
            if event["type"] == "DELETED":
                stream.stop()
                return
        if self._namespace_exists(name):
            raise TimeoutError(f"namespace {name} still exists after {timeout:.0f} s")

    def _namespace_exists(self, name: str) -> bool:
        try:
            self.core.read_namespace(name)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    # --- workloads ----------------------------------------------------------------------

    def create_deployment(self, namespace: str, name: str, replicas: int) -> None:
        """A Deployment of `replicas` kwok pods with the default rolling-update strategy."""
        labels = {"app": name}
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels, "annotations": {REVISION_ANNOTATION: "0"}},
                    # Thousands of pods: on kwok's simulated nodes, never the real one.
                    "spec": {"containers": [{"name": "app", "image": IMAGE, "imagePullPolicy": "Never"}],
                             **KWOK_PLACEMENT},
                },
            },
        }
        self.apps.create_namespaced_deployment(namespace, body)

    def update_template(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        """Start a new revision by changing pod template annotations."""
        patch = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
        self.apps.patch_namespaced_deployment(name, namespace, patch)

    # --- fake nodes ---------------------------------------------------------------------

    def create_nodes(self, names: list[str], pods: int) -> None:
        """kwok nodes made Ready by the sandbox's node stages, as sandboxctl makes its own."""
        for name in names:
            body = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                               "kubernetes.io/arch": "amd64", "bench.slipway.dev/node": "true"},
                },
                "spec": {"taints": [KWOK_TAINT]},
                "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": str(pods)},
                           "capacity": {"cpu": "16", "memory": "64Gi", "pods": str(pods)}},
            }
            try:
                self.core.create_node(body)
            except ApiException as error:
                if error.status != 409:
                    raise

    def wait_nodes_ready(self, names: list[str], timeout: float = 120) -> None:
        """Return once every named node reports Ready (watched)."""
        pending = set(names)
        stream = watch.Watch()
        for event in stream.stream(self.core.list_node, label_selector="bench.slipway.dev/node=true",
                                   timeout_seconds=int(timeout)):
            node = event["object"]
            ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
            if ready:
                pending.discard(node.metadata.name)
            if not pending:
                stream.stop()
                return
        raise TimeoutError(f"nodes not Ready after {timeout:.0f} s: {sorted(pending)}")

    def delete_nodes(self, names: list[str]) -> None:
        for name in names:
            try:
                self.core.delete_node(name)
            except ApiException as error:
                if error.status != 404:
                    raise

    def cordon_nodes(self, names: list[str]) -> None:
        """Keep new pods (the bench's or anyone's) off nodes about to be deleted."""
        for name in names:
            self.core.patch_node(name, {"spec": {"unschedulable": True}})

    # --- request counting ---------------------------------------------------------------

    def get_raw(self, path: str) -> bytes:
        """GET a path of the API server with the admin identity and return the body."""
        configuration = self.api.configuration
        response = self.api.call_api("GET", configuration.host + path,
                                     header_params=self.api.default_headers | {"Accept": "*/*"})
        response.read()
        return response.data

    def dispatched_requests(self) -> dict[str, int]:
        """apiserver_flowcontrol_dispatched_requests_total per FlowSchema, read from /metrics."""
        text = self.get_raw("/metrics").decode()
        counts: dict[str, int] = {}
        pattern = re.compile(r'^apiserver_flowcontrol_dispatched_requests_total\{([^}]*)\} (\S+)$', re.M)
        for labels, value in pattern.findall(text):
            schema = re.search(r'flow_schema="([^"]*)"', labels)
            if schema:
                counts[schema.group(1)] = counts.get(schema.group(1), 0) + int(float(value))
        return counts


@dataclass
class Identity:
    """A ServiceAccount whose requests the API server counts under a FlowSchema of its own."""

    name: str
    kubeconfig: Path

    def requests(self, cluster: Cluster) -> int:
        return cluster.dispatched_requests().get(self.name, 0)


def create_identity(cluster: Cluster, name: str, folder: Path) -> Identity:
    """A cluster-admin ServiceAccount `name`, its FlowSchema, and a kubeconfig with its token.

    The bench gives the waiter under test and its baseline separate identities so that the API
    server's own metrics attribute every request, with the sandbox's controllers and other
    people's tests left out.
    """
    try:
        cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=IDENTITY_NAMESPACE)))
    except ApiException as error:
        if error.status != 409:
            raise
    subject = {"kind": "ServiceAccount", "name": name, "namespace": IDENTITY_NAMESPACE}
    _create_or_replace(lambda: cluster.core.create_namespaced_service_account(
        IDENTITY_NAMESPACE, {"metadata": {"name": name}}))
    _create_or_replace(lambda: cluster.rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [subject],
    }))
    _create_or_replace(lambda: cluster.custom.create_cluster_custom_object(
        "flowcontrol.apiserver.k8s.io", "v1", "flowschemas", {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {
                "priorityLevelConfiguration": {"name": "workload-high"},
                "matchingPrecedence": FLOW_SCHEMA_PRECEDENCE,
                "rules": [{
                    "subjects": [{"kind": "ServiceAccount",
                                  "serviceAccount": {"name": name, "namespace": IDENTITY_NAMESPACE}}],
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                       "namespaces": ["*"], "clusterScope": True}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }],
            },
        }))
    token = cluster.core.create_namespaced_service_account_token(
        name, IDENTITY_NAMESPACE, {"spec": {"expirationSeconds": 6 * 3600}}).status.token
    configuration = cluster.api.configuration
    ca_data = base64.b64encode(Path(configuration.ssl_ca_cert).read_bytes()).decode()
    kubeconfig = folder / f"{name}.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": configuration.host,
                                                      "certificate-authority-data": ca_data}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "sandbox", "user": name}}],
        "current-context": name,
    }))
    kubeconfig.chmod(0o600)
    return Identity(name, kubeconfig)


def delete_identities(cluster: Cluster, names: list[str]) -> None:
    """Remove the FlowSchemas and bindings (cluster-scoped) and the identities' namespace."""
    for name in names:
        for delete in (lambda: cluster.custom.delete_cluster_custom_object(
                           "flowcontrol.apiserver.k8s.io", "v1", "flowschemas", name),
                       lambda: cluster.rbac.delete_cluster_role_binding(name)):
            try:
                delete()
            except ApiException as error:
                if error.status != 404:
                    raise
    cluster.delete_namespace(IDENTITY_NAMESPACE)


def _create_or_replace(create: Callable[[], Any]) -> None:
    """Create an object; one left by an interrupted run is fine as it is (same spec)."""
    try:
        create()
    except ApiException as error:
        if error.status != 409:
            raise


# --- what the bench observes ----------------------------------------------------------------


@dataclass
class PodLog:
    """When the bench saw each pod of a namespace reach the states it compares waiters with."""

    ready_seen: dict[str, float] = field(default_factory=dict)        # local clock, watch event
    ready_api: dict[str, float] = field(default_factory=dict)         # Ready lastTransitionTime
    crashloop_seen: dict[str, float] = field(default_factory=dict)    # first CrashLoopBackOff
    revision: dict[str, str] = field(default_factory=dict)            # REVISION_ANNOTATION


class PodRecorder:
    """Watches the pods of a namespace in a thread and records when each turned Ready or began
    crash-looping, by its revision annotation. Callers wait on a condition, not a timer."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.log = PodLog()
        self._condition = threading.Condition()
        self._stream = watch.Watch()
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PodRecorder:
        self._thread.start()
        self._started.wait()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._stream.stop()

    def _run(self) -> None:
        follow(self.cluster.core.list_namespaced_pod, self.namespace, self._record, self._started,
               self._stopping, self._stream)

    def _record(self, pod: client.V1Pod) -> None:
        now = time.time()
        name = pod.metadata.name
        with self._condition:
            self.log.revision[name] = (pod.metadata.annotations or {}).get(REVISION_ANNOTATION, "")
            for condition in pod.status.conditions or []:
                if condition.type == "Ready" and condition.status == "True" and name not in self.log.ready_seen:
                    self.log.ready_seen[name] = now
                    self.log.ready_api[name] = condition.last_transition_time.timestamp()
            for status in pod.status.container_statuses or []:
                waiting = status.state.waiting if status.state else None
                if waiting and waiting.reason == "CrashLoopBackOff" and name not in self.log.crashloop_seen:
                    self.log.crashloop_seen[name] = now
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[PodLog], bool], timeout: float) -> bool:
        """Block until `predicate(log)` holds (checked on every pod event) or `timeout` passes."""
        with self._condition:
            return self._condition.wait_for(lambda: predicate(self.log), timeout)

    def of_revision(self, revision: str, times: dict[str, float]) -> list[float]:
        with self._condition:
            return [t for name, t in times.items() if self.log.revision.get(name) == revision]


def deployment_complete(deployment: client.V1Deployment) -> bool:
    """`kubectl rollout status` for a Deployment: latest spec observed, every replica updated,
    available, and no old replica left."""
    spec, status = deployment.spec, deployment.status
    return ((status.observed_generation or 0) >= deployment.metadata.generation
            and (status.updated_replicas or 0) == spec.replicas
            and (status.replicas or 0) == spec.replicas
            and (status.available_replicas or 0) == spec.replicas)


def follow(list_objects: Callable[..., Any], namespace: str, record: Callable[[Any], None],
           started: threading.Event, stopping: threading.Event, stream: watch.Watch) -> None:
    """Pass every object of a namespaced list, then every added or modified one, to `record`:
    list, watch from the list's resourceVersion, and list again whenever the watch ends (server
    timeout, dropped connection, 410 Gone), until `stopping` is set."""
    while not stopping.is_set():
        listed = list_objects(namespace)
        for item in listed.items:
            record(item)
        started.set()
        try:
            for event in stream.stream(list_objects, namespace, resource_version=listed.metadata.resource_version,
                                       timeout_seconds=300):
                if event["type"] in ("ADDED", "MODIFIED"):
                    record(event["object"])
        except (ApiException, ProtocolError):
            continue


@contextmanager
def rollout_completion(cluster: Cluster, namespace: str, revision: str, names: set[str]) -> Iterator[dict[str, float]]:
    """Record, by watching, when each named Deployment's rollout of pod template `revision`
    completes; the dict fills in while the block runs."""
    done: dict[str, float] = {}
    stream = watch.Watch()
    started, stopping = threading.Event(), threading.Event()

    def record(deployment: client.V1Deployment) -> None:
        name = deployment.metadata.name
        annotations = deployment.spec.template.metadata.annotations or {}
        if (name in names and name not in done and annotations.get(REVISION_ANNOTATION) == revision
                and deployment_complete(deployment)):
            done[name] = time.time()

    thread = threading.Thread(target=follow, args=(cluster.apps.list_namespaced_deployment, namespace, record,
                                                   started, stopping, stream), daemon=True)
    thread.start()
    started.wait()
    try:
        yield done
    finally:
        stopping.set()
        stream.stop()
