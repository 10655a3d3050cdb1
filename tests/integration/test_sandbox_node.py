"""The sandbox's real node runs pods for real: containers, logs, exec, probes, DNS, Services,
restricted Pod Security settings, and no way out of the sandbox's own network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.stream import stream

from kubewait import wait_for
from realnode import REAL_NODE, SANDBOXCTL, node_image, restricted_pod
from slipway_sandbox import cri, layout, network, node

HTTP_PORT = 8080


@pytest.fixture(scope="module")
def image() -> str:
    return node_image()


def ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def run_pod(core: client.CoreV1Api, namespace: str, body: dict) -> client.V1Pod:
    core.create_namespaced_pod(namespace, body)
    return wait_for(core.list_namespaced_pod, ready, namespace=namespace,
                    field_selector=f"metadata.name={body['metadata']['name']}")


def exec_in(core: client.CoreV1Api, namespace: str, pod: str, command: list[str]) -> str:
    return stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                  stderr=True, stdin=False, stdout=True, tty=False)


def python(code: str) -> list[str]:
    return ["python3", "-c", code]


def web_server(name: str, image: str) -> dict:
    return restricted_pod(
        name, image, ["python3", "-u", "-m", "http.server", str(HTTP_PORT), "--directory", "/etc"],
        ports=[{"containerPort": HTTP_PORT, "name": "http"}],
        readinessProbe={"httpGet": {"path": "/hostname", "port": HTTP_PORT}, "periodSeconds": 1},
    )


def test_the_real_node_is_ready_at_the_pinned_version(core: client.CoreV1Api, api_client: client.ApiClient) -> None:
    (node,) = core.list_node(label_selector="type=real").items
    assert node.metadata.name == layout.NODE_NAME
    assert next(c.status for c in node.status.conditions if c.type == "Ready") == "True"
    assert node.status.node_info.kubelet_version == client.VersionApi(api_client).get_code().git_version
    assert node.status.node_info.container_runtime_version.startswith("containerd://2.")
    assert {"type": "InternalIP", "address": layout.NODE_ADDRESS} in [
        {"type": a.type, "address": a.address} for a in node.status.addresses]
    assert not node.spec.taints


def test_the_runtimes_health_check_is_a_real_cri_call() -> None:
    # containerd accepts connections before its CRI can serve: only an answered call counts.
    socket_path = str(layout.CONTAINERD_SOCKET)
    assert cri.answers(socket_path)
    assert not cri.answers(socket_path, "/runtime.v1.RuntimeService/NoSuchMethod")
    assert not cri.answers(str(layout.NODE / "no-such.sock"))


def test_logs_and_exec_reach_the_container_running_as_its_non_root_uid(
        core: client.CoreV1Api, namespace: str, image: str) -> None:
    run_pod(core, namespace, web_server("web", image))
    log = core.read_namespaced_pod_log("web", namespace)
    assert "GET /hostname" in log  # the readiness probe's requests, in the server's own log
    assert exec_in(core, namespace, "web", ["id", "-u"]).strip() == "10001"
    refused = exec_in(core, namespace, "web", ["sh", "-c", "touch /written 2>&1; echo status=$?"])
    assert "Read-only file system" in refused and "status=1" in refused
    capabilities = exec_in(core, namespace, "web", ["sh", "-c", "grep CapEff /proc/self/status"])
    assert capabilities.split()[-1] == "0000000000000000"


def test_cluster_dns_and_services_through_kube_proxy(core: client.CoreV1Api, namespace: str, image: str) -> None:
    run_pod(core, namespace, web_server("web", image))
    core.create_namespaced_service(namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": HTTP_PORT}]}})
    run_pod(core, namespace, restricted_pod("client", image, ["sleep", "infinity"]))
    service_ip = core.read_namespaced_service("web", namespace).spec.cluster_ip
    resolved = exec_in(core, namespace, "client", python(
        f"import socket; print(socket.gethostbyname('web.{namespace}.svc.cluster.local'))"))
    assert resolved.strip() == service_ip
    # The Service has its ready endpoint; kube-proxy programs it asynchronously after that (until
    # then the ClusterIP refuses), so the client tries until it answers or 15 s have passed.
    discovery = client.DiscoveryV1Api(core.api_client)
    wait_for(discovery.list_namespaced_endpoint_slice,
             lambda s: any((e.conditions and e.conditions.ready) for e in s.endpoints or []),
             namespace=namespace, label_selector="kubernetes.io/service-name=web")
    # A short name through the pod's search path, and the answer through the ClusterIP.
    fetched = exec_in(core, namespace, "client", python(
        "import time, urllib.request\n"
        "deadline = time.monotonic() + 15\n"
        "while True:\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://web/hostname', timeout=5).status); break\n"
        "    except OSError as error:\n"
        "        if time.monotonic() > deadline: print('refused', error); break\n"
        "        time.sleep(0.2)\n"))
    assert fetched.strip() == "200"
    api = exec_in(core, namespace, "client", python(
        "import socket; print(socket.gethostbyname('kubernetes.default.svc.cluster.local'))"))
    assert api.strip() == "10.96.0.1"


def node_drops() -> int:
    listing = network.in_node("nft", "--json", "list", "table", "inet", network.NODE_TABLE).stdout
    return sum(item["rule"]["expr"][-2]["counter"]["packets"] for item in json.loads(listing)["nftables"]
               if "rule" in item)


def test_pod_traffic_cannot_leave_the_sandbox(core: client.CoreV1Api, namespace: str, image: str) -> None:
    run_pod(core, namespace, restricted_pod("client", image, ["sleep", "infinity"]))
    before = node_drops()
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): no host anywhere has it; the node's guard drops the packet.
    attempt = exec_in(core, namespace, "client", python(
        "import socket\ntry:\n socket.create_connection(('192.0.2.1', 80), timeout=2)\n print('connected')\n"
        "except OSError as error:\n print('refused', error)"))
    assert attempt.startswith("refused")
    assert node_drops() > before


def test_a_pod_of_a_missing_image_fails_with_err_image_never_pull(
        core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, restricted_pod("ghost", "slipway/never-built:1", ["true"]))
    waiting = wait_for(core.list_namespaced_pod,
                       lambda p: any((s.state.waiting or client.V1ContainerStateWaiting()).reason
                                     == "ErrImageNeverPull" for s in p.status.container_statuses or []),
                       namespace=namespace, field_selector="metadata.name=ghost")
    assert waiting.spec.node_name == layout.NODE_NAME


def test_kwoks_nodes_only_take_pods_that_ask_for_them(core: client.CoreV1Api, namespace: str, image: str) -> None:
    body = restricted_pod("anywhere", image, ["sleep", "infinity"])
    del body["spec"]["nodeSelector"]
    placed = run_pod(core, namespace, body)
    assert placed.spec.node_name == layout.NODE_NAME
    assert core.read_node(placed.spec.node_name).metadata.labels["type"] == REAL_NODE["type"]


def host_traces(made_paths: list[str]) -> dict:
    """What the node adds to the host while it runs, each as something a test can compare."""
    mounts = Path("/proc/self/mountinfo").read_text()
    return {
        "netns": layout.NODE_NETNS in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                     text=True).stdout.split(),
        "bridge": subprocess.run(["ip", "link", "show", layout.BRIDGE], capture_output=True).returncode == 0,
        "nft table": network.HOST_TABLE in subprocess.run(["nft", "list", "tables"], capture_output=True,
                                                          text=True).stdout,
        "mounts": f" {layout.NODE}/" in mounts,
        "cgroups": any(Path(d).exists() for d in node.cgroup_dirs()),
        "shims": bool(node.shim_pids()),
        "host folders it made": any(Path(p).exists() for p in made_paths),
    }


@pytest.mark.serial
def test_down_removes_everything_the_node_added_and_up_brings_it_back(
        core: client.CoreV1Api, namespace: str, image: str) -> None:
    first = run_pod(core, namespace, restricted_pod("survivor", image, ["sleep", "infinity"]))
    host_state = json.loads(node.HOST_STATE.read_text())
    recorded, made = host_state["sysctls"], host_state["made_paths"]
    running = host_traces(made)
    assert running["netns"] and running["bridge"] and running["mounts"] and running["shims"], running
    set_by_kubelet = {name: Path("/proc/sys", name).read_text() for name in layout.KUBELET_SYSCTLS}
    down = subprocess.run([sys.executable, SANDBOXCTL, "down"], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert not any(host_traces(made).values()), host_traces(made)
    assert {name: Path("/proc/sys", name).read_text().strip() for name in layout.KUBELET_SYSCTLS} == recorded
    up = subprocess.run([sys.executable, SANDBOXCTL, "up"], capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    # The pod the API server kept gets a new sandbox and container, as after a reboot.
    first_container = first.status.container_statuses[0].container_id
    wait_for(core.list_namespaced_pod,
             lambda p: ready(p) and p.status.container_statuses[0].container_id != first_container,
             namespace=namespace, field_selector="metadata.name=survivor")
    assert {name: Path("/proc/sys", name).read_text() for name in layout.KUBELET_SYSCTLS} == set_by_kubelet
