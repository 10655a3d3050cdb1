"""The sandbox cluster keeps its promises: real scheduling, simulated pod lifecycles on kwok's
nodes, injected faults, Pod Security admission, and a Docker engine that builds images.
The real node is tested in test_sandbox_node.py."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubewait import wait_for
from slipway_sandbox.layout import KWOK_PLACEMENT

FAULT_ANNOTATION = "sandbox.slipway.dev/fault"
IMAGE = "registry.invalid/slipway/sandbox-test:1"
# Every pod here runs on kwok's simulated nodes.
ON_KWOK = {"node_selector": KWOK_PLACEMENT["nodeSelector"], "tolerations": KWOK_PLACEMENT["tolerations"]}


def container(name: str = "main", **resources: str) -> client.V1Container:
    return client.V1Container(
        name=name,
        image=IMAGE,
        resources=client.V1ResourceRequirements(requests=resources or {"cpu": "100m", "memory": "64Mi"}),
    )


def pod(name: str, annotations: dict[str, str] | None = None, **resources: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations),
        spec=client.V1PodSpec(containers=[container(**resources)], restart_policy="Always", **ON_KWOK),
    )


def container_status(item: client.V1Pod) -> client.V1ContainerStatus | None:
    statuses = item.status.container_statuses or []
    return statuses[0] if statuses else None


def condition(item: client.V1Pod, kind: str) -> str | None:
    return next((c.status for c in item.status.conditions or [] if c.type == kind), None)


def test_nodes_are_ready(core: client.CoreV1Api) -> None:
    nodes = core.list_node(label_selector="type=kwok").items
    assert len(nodes) >= 3
    for node in nodes:
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.status == "True", node.metadata.name


def test_server_reports_the_pinned_kubernetes_version(api_client: client.ApiClient) -> None:
    pinned = next(
        line.split("=", 1)[1]
        for line in open(os.path.join(os.path.dirname(__file__), "..", "..", "sandbox", "versions.env"))
        if line.startswith("KUBERNETES_VERSION=")
    ).strip()
    assert client.VersionApi(api_client).get_code().git_version == pinned


def test_deployment_becomes_available_spread_over_nodes(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    labels = {"app": "spread"}
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(
            containers=[container()],
            **ON_KWOK,
            # A hard constraint, so only a scheduler that really scores nodes can satisfy it.
            topology_spread_constraints=[
                client.V1TopologySpreadConstraint(
                    max_skew=1,
                    topology_key="kubernetes.io/hostname",
                    when_unsatisfiable="DoNotSchedule",
                    label_selector=client.V1LabelSelector(match_labels=labels),
                )
            ],
        ),
    )
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="spread"),
            spec=client.V1DeploymentSpec(
                replicas=3, selector=client.V1LabelSelector(match_labels=labels), template=template
            ),
        ),
    )
    wait_for(
        apps.list_namespaced_deployment,
        lambda d: (d.status.available_replicas or 0) == 3,
        namespace=namespace,
        field_selector="metadata.name=spread",
    )
    pods = core.list_namespaced_pod(namespace, label_selector="app=spread").items
    assert len({p.spec.node_name for p in pods}) == 3
    assert all(p.status.phase == "Running" and condition(p, "Ready") == "True" for p in pods)


def test_job_completes(batch: client.BatchV1Api, namespace: str) -> None:
    batch.create_namespaced_job(
        namespace,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="once"),
            spec=client.V1JobSpec(
                backoff_limit=0,
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(containers=[container()], restart_policy="Never", **ON_KWOK)
                ),
            ),
        ),
    )
    job = wait_for(
        batch.list_namespaced_job,
        lambda j: any(c.type in ("Complete", "Failed") and c.status == "True" for c in j.status.conditions or []),
        namespace=namespace,
        field_selector="metadata.name=once",
    )
    assert [c.type for c in job.status.conditions if c.status == "True"][-1] == "Complete"
    assert job.status.succeeded == 1


def test_crashloop_fault_restarts_with_rising_count(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("crash", {FAULT_ANNOTATION: "crashloop"}))

    def crash_looping_twice(item: client.V1Pod) -> bool:
        status = container_status(item)
        return bool(
            status
            and status.state.waiting
            and status.state.waiting.reason == "CrashLoopBackOff"
            and status.restart_count >= 2
        )

    crashing = wait_for(
        core.list_namespaced_pod, crash_looping_twice, namespace=namespace, field_selector="metadata.name=crash"
    )
    status = container_status(crashing)
    assert status.last_state.terminated.exit_code != 0
    assert condition(crashing, "Ready") == "False"


# The last lines of sandbox/logs/: kwok serves them as every container's log and previous log.
SIMULATED_LOG_LINE = "sandbox: simulated container started (kwok runs no process)"
CRASH_LOG_LINE = "RuntimeError: sandbox fault: crashloop (simulated container exit 1)"


def kubectl_logs(namespace: str, name: str, *flags: str) -> str:
    """`kubectl logs`, the API server's path to the node's kubelet endpoint (kwok's server)."""
    result = subprocess.run(["kubectl", "logs", "-n", namespace, name, *flags],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_logs_of_a_running_pod_say_it_is_simulated(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("quiet"))
    wait_for(core.list_namespaced_pod, lambda p: p.status.phase == "Running",
             namespace=namespace, field_selector="metadata.name=quiet")
    assert core.read_namespaced_pod_log("quiet", namespace).splitlines()[-1] == SIMULATED_LOG_LINE
    assert kubectl_logs(namespace, "quiet", "--tail=1") == SIMULATED_LOG_LINE + "\n"


def test_previous_logs_of_a_crash_looping_pod_show_the_crash(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("crash", {FAULT_ANNOTATION: "crashloop"}))
    wait_for(
        core.list_namespaced_pod,
        lambda p: bool(container_status(p) and container_status(p).restart_count >= 1),
        namespace=namespace,
        field_selector="metadata.name=crash",
    )
    previous = core.read_namespaced_pod_log("crash", namespace, previous=True)
    assert "Traceback (most recent call last):" in previous
    assert previous.splitlines()[-1] == CRASH_LOG_LINE
    assert kubectl_logs(namespace, "crash", "--previous", "--tail=1") == CRASH_LOG_LINE + "\n"


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff"])
def test_imagepull_fault(core: client.CoreV1Api, namespace: str, reason: str) -> None:
    core.create_namespaced_pod(namespace, pod("pull", {FAULT_ANNOTATION: "imagepull"}))
    pulling = wait_for(
        core.list_namespaced_pod,
        lambda p: bool(container_status(p) and container_status(p).state.waiting
                       and container_status(p).state.waiting.reason == reason),
        namespace=namespace,
        field_selector="metadata.name=pull",
    )
    assert pulling.status.phase == "Pending"


def test_never_ready_fault(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("lazy", {FAULT_ANNOTATION: "never-ready"}))
    running = wait_for(
        core.list_namespaced_pod,
        lambda p: p.status.phase == "Running" and bool(container_status(p) and container_status(p).state.running),
        namespace=namespace,
        field_selector="metadata.name=lazy",
    )
    assert container_status(running).ready is False
    assert condition(running, "Ready") == "False"


def test_job_fail_fault(batch: client.BatchV1Api, core: client.CoreV1Api, namespace: str) -> None:
    batch.create_namespaced_job(
        namespace,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="doomed"),
            spec=client.V1JobSpec(
                backoff_limit=0,
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(annotations={FAULT_ANNOTATION: "job-fail"}),
                    spec=client.V1PodSpec(containers=[container()], restart_policy="Never", **ON_KWOK),
                ),
            ),
        ),
    )
    job = wait_for(
        batch.list_namespaced_job,
        lambda j: any(c.type == "Failed" and c.status == "True" for c in j.status.conditions or []),
        namespace=namespace,
        field_selector="metadata.name=doomed",
    )
    assert next(c for c in job.status.conditions if c.type == "Failed").reason == "BackoffLimitExceeded"
    failed_pod = core.list_namespaced_pod(namespace, label_selector="job-name=doomed").items[0]
    assert failed_pod.status.phase == "Failed"
    assert container_status(failed_pod).state.terminated.exit_code == 1


def test_oversized_pod_stays_pending_with_failed_scheduling(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("huge", cpu="64", memory="1Ti"))
    event = wait_for(
        core.list_namespaced_event,
        lambda e: e.reason == "FailedScheduling",
        namespace=namespace,
        field_selector="involvedObject.name=huge",
    )
    assert "Insufficient cpu" in event.message
    huge = core.read_namespaced_pod("huge", namespace)
    assert huge.status.phase == "Pending" and not huge.spec.node_name
    assert condition(huge, "PodScheduled") == "False"


@pytest.mark.parametrize("namespace", [{"pod-security.kubernetes.io/enforce": "restricted"}], indirect=True)
def test_restricted_namespace_rejects_privileged_pod(core: client.CoreV1Api, namespace: str) -> None:
    privileged = pod("root")
    privileged.spec.containers[0].security_context = client.V1SecurityContext(privileged=True)
    with pytest.raises(ApiException) as denied:
        core.create_namespaced_pod(namespace, privileged)
    assert denied.value.status == 403
    message = json.loads(denied.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "privileged" in message


def test_docker_builds_on_the_sandbox_daemon() -> None:
    assert os.environ.get("DOCKER_HOST", "").startswith("unix://"), "DOCKER_HOST must name the sandbox daemon"
    with tempfile.TemporaryDirectory() as context:
        with open(os.path.join(context, "payload.txt"), "w") as payload:
            payload.write("built by the sandbox test\n")
        with open(os.path.join(context, "Dockerfile"), "w") as dockerfile:
            dockerfile.write("FROM scratch\nCOPY payload.txt /payload.txt\nLABEL dev.slipway.test=sandbox\n")
        tag = "slipway/sandbox-build-test:latest"
        subprocess.run(
            ["docker", "build", "--network", "none", "-t", tag, context],
            check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
    try:
        inspected = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{ index .Config.Labels \"dev.slipway.test\" }}", tag],
            check=True, capture_output=True, text=True,
        )
        assert inspected.stdout.strip() == "sandbox"
    finally:
        subprocess.run(["docker", "image", "rm", tag], check=True, capture_output=True)
