"""etcd, the Kubernetes control plane, kwok's simulated nodes and the sandbox's Docker engine."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from . import layout
from .layout import (DOCKER, DOCKER_SOCKET, HERE, HOST_ADDRESS, KUBECONFIG, KUBELET_ADDRESS, KWOK_TAINT,
                     NODE_COUNT, NODE_CPU, NODE_MEMORY, NODE_PODS, PKI, PORTS, SERVICE_CIDR, STATE,
                     SandboxError, log)
from .supervisor import Component

# The controllers' and the scheduler's default client rate limits (20 and 50 requests a second)
# made a 2,000-pod rollout take 12 minutes; kwok's client is unlimited already. The API server's
# own priority and fairness stays on: what it admits is what a real cluster would.
UNTHROTTLED_CLIENT = ("--kube-api-qps=5000", "--kube-api-burst=10000")
# The default StorageClass's provisioner: the sandbox's own (slipway_sandbox.volumes), whose
# folders non-root pods can write, unlike kube-controller-manager's host-path provisioner.
VOLUME_PROVISIONER = "slipway.dev/sandbox-hostpath"


def control_plane_client_flags(user: str, port: int) -> list[str]:
    """A controller's identity towards the API server, and its own health endpoint on 127.0.0.1."""
    kubeconfig = PKI / f"{user}.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--tls-cert-file={PKI / 'serving.crt'}", f"--tls-private-key-file={PKI / 'serving.key'}",
        "--bind-address=127.0.0.1", f"--secure-port={port}",
    ]


def components(bin_dir: Path) -> list[Component]:
    """The control plane's processes, in start order."""
    etcd_url = f"https://127.0.0.1:{PORTS['etcd']}"
    pki = str(PKI)
    ca = f"{pki}/ca.crt"
    docker_bin = shutil.which("dockerd") or "dockerd"
    return [
        Component(
            "etcd",
            [str(bin_dir / "etcd"), "--name=sandbox", f"--data-dir={STATE / 'etcd'}",
             f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
             f"--listen-peer-urls=http://127.0.0.1:{PORTS['etcd-peer']}",
             f"--initial-advertise-peer-urls=http://127.0.0.1:{PORTS['etcd-peer']}",
             f"--initial-cluster=sandbox=http://127.0.0.1:{PORTS['etcd-peer']}",
             f"--cert-file={pki}/serving.crt", f"--key-file={pki}/serving.key",
             f"--trusted-ca-file={ca}", "--client-cert-auth",
             "--listen-metrics-urls=", "--log-level=warn",
             # The sandbox is disposable: a lost fsync costs a re-create, not data.
             "--unsafe-no-fsync", "--quota-backend-bytes=2147483648"],
            health=f"{etcd_url}/health", port=PORTS["etcd"],
        ),
        Component(
            "kube-apiserver",
            [str(bin_dir / "kube-apiserver"),
             "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
             f"--secure-port={PORTS['kube-apiserver']}",
             f"--etcd-servers={etcd_url}", f"--etcd-cafile={ca}",
             f"--etcd-certfile={pki}/admin.crt", f"--etcd-keyfile={pki}/admin.key",
             f"--tls-cert-file={pki}/serving.crt", f"--tls-private-key-file={pki}/serving.key",
             f"--client-ca-file={ca}",
             # The controllers' delegated authentication loads this CA bundle, and the API server
             # proxies aggregated APIs (metrics.k8s.io) as front-proxy-client.
             f"--requestheader-client-ca-file={ca}", "--requestheader-allowed-names=front-proxy-client",
             "--requestheader-username-headers=X-Remote-User",
             "--requestheader-group-headers=X-Remote-Group",
             "--requestheader-extra-headers-prefix=X-Remote-Extra-",
             f"--proxy-client-cert-file={pki}/front-proxy-client.crt",
             f"--proxy-client-key-file={pki}/front-proxy-client.key",
             # The API server runs on the host, where Service IPs mean nothing (kube-proxy works
             # in the node's network namespace): it dials an aggregated API's endpoint directly.
             "--enable-aggregator-routing=true",
             f"--service-account-key-file={pki}/service-account.pub",
             f"--service-account-signing-key-file={pki}/service-account.key",
             "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
             f"--service-cluster-ip-range={SERVICE_CIDR}",
             "--authorization-mode=Node,RBAC",
             # PodSecurity is on by default; named so the intent is visible.
             "--enable-admission-plugins=NodeRestriction,PodSecurity,ResourceQuota,LimitRanger",
             # Loopback addresses are not valid endpoints of the `kubernetes` Service; the
             # sandbox writes its endpoint itself: the bridge address, forwarded to 127.0.0.1.
             "--endpoint-reconciler-type=none",
             "--allow-privileged=true",
             # kwok's nodes are reached at their 127.0.0.1 ExternalIP (kwok's server, for logs),
             # the real node at its InternalIP on the bridge; both certificates are checked.
             f"--kubelet-preferred-address-types={KUBELET_ADDRESS['type']},InternalIP",
             f"--kubelet-certificate-authority={ca}",
             f"--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt",
             f"--kubelet-client-key={pki}/apiserver-kubelet-client.key",
             "--profiling=false", "--v=1"],
            health=f"https://127.0.0.1:{PORTS['kube-apiserver']}/readyz",
            port=PORTS["kube-apiserver"],
        ),
        Component(
            "kube-controller-manager",
            [str(bin_dir / "kube-controller-manager"),
             *control_plane_client_flags("controller-manager", PORTS["kube-controller-manager"]),
             f"--service-account-private-key-file={pki}/service-account.key",
             f"--root-ca-file={ca}", "--use-service-account-credentials=true",
             f"--service-cluster-ip-range={SERVICE_CIDR}",
             "--leader-elect=false",
             "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
             *UNTHROTTLED_CLIENT,
             "--profiling=false", "--v=1"],
            health=f"https://127.0.0.1:{PORTS['kube-controller-manager']}/healthz",
            port=PORTS["kube-controller-manager"],
        ),
        Component(
            "kube-scheduler",
            [str(bin_dir / "kube-scheduler"),
             *control_plane_client_flags("scheduler", PORTS["kube-scheduler"]),
             *UNTHROTTLED_CLIENT,
             "--leader-elect=false", "--profiling=false", "--v=1"],
            health=f"https://127.0.0.1:{PORTS['kube-scheduler']}/healthz",
            port=PORTS["kube-scheduler"],
        ),
        Component(
            "kwok",
            [str(bin_dir / "kwok"), f"--kubeconfig={pki}/kwok.kubeconfig",
             f"--server-address=127.0.0.1:{PORTS['kwok']}",
             # The same port speaks HTTPS to the API server (container logs) with the sandbox's
             # 127.0.0.1 certificate; --node-port only fills the stages' NodePort, so
             # node-initialize names this port as a new node's kubelet endpoint.
             f"--tls-cert-file={pki}/serving.crt", f"--tls-private-key-file={pki}/serving.key",
             f"--node-port={PORTS['kwok']}",
             # The real node is left to its kubelet.
             "--manage-all-nodes=false",
             "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
             # Room for a few thousand pods; the default /24 runs out at 254.
             "--cidr=10.244.0.0/16",
             *(f"--config={stage}" for stage in sorted((HERE / "stages").glob("*.yaml"))),
             *(f"--config={logs}" for logs in sorted((HERE / "logs").glob("*.yaml")))],
            health=f"http://127.0.0.1:{PORTS['kwok']}/healthz",
            port=PORTS["kwok"],
            # Otherwise kwok also reads a user's ~/.kwok/kwok.yaml.
            env={"KWOK_WORKDIR": str(STATE / "kwok")},
            # kwok resolves the log files that sandbox/logs/*.yaml name against its working folder.
            cwd=HERE,
        ),
        Component(
            "dockerd",
            [docker_bin, "--storage-driver=vfs", "--iptables=false", "--ip6tables=false",
             "--bridge=none", f"--host=unix://{DOCKER_SOCKET}",
             # Also over TCP with TLS both ways, as a minikube node's daemon serves
             # (`minikube docker-env`): clients need a certificate from the sandbox's CA.
             f"--host=tcp://127.0.0.1:{PORTS['docker-tls']}", "--tlsverify", f"--tlscacert={ca}",
             f"--tlscert={pki}/serving.crt", f"--tlskey={pki}/serving.key",
             f"--data-root={DOCKER / 'data'}", f"--exec-root={DOCKER / 'exec'}",
             f"--pidfile={DOCKER / 'dockerd.pid'}"],
            health=f"unix:{DOCKER_SOCKET}",
        ),
    ]


def kubectl(bin_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [str(bin_dir / "kubectl"), f"--kubeconfig={KUBECONFIG}", *args],
        input=stdin, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SandboxError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def apply(bin_dir: Path, objects: list[dict]) -> None:
    kubectl(bin_dir, "apply", "--server-side", "--force-conflicts", "--field-manager=slipway-sandbox",
            "-f", "-", stdin="\n".join(json.dumps(obj) for obj in objects))


def kubernetes_version() -> str:
    return binaries_versions()["KUBERNETES_VERSION"]


def binaries_versions() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (HERE / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )


def kwok_nodes() -> list[dict]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"sandbox-node-{index}",
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": f"sandbox-node-{index}",
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "topology.kubernetes.io/zone": f"sandbox-{index % 3}",
                },
            },
            "spec": {"taints": [KWOK_TAINT]},
            "status": {
                "nodeInfo": {"kubeletVersion": kubernetes_version()},
                "allocatable": {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": NODE_PODS},
                "capacity": {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": NODE_PODS},
            },
        }
        for index in range(NODE_COUNT)
    ]


def storage_class() -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "standard",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": VOLUME_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def api_server_endpoints() -> list[dict]:
    """Where pods reach the API server through the `kubernetes` Service: the bridge's forwarder."""
    return [{
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes",
                                "endpointslice.kubernetes.io/managed-by": "slipway-sandbox"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [HOST_ADDRESS], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": PORTS["kube-apiserver"], "protocol": "TCP"}],
    }]


def replace_storage_class(bin_dir: Path) -> None:
    """A StorageClass's provisioner cannot change: a sandbox made before this one's is replaced."""
    found = subprocess.run([str(bin_dir / "kubectl"), f"--kubeconfig={KUBECONFIG}", "get", "storageclass",
                            "standard", "-o", "jsonpath={.provisioner}"], capture_output=True, text=True)
    if found.returncode == 0 and found.stdout and found.stdout != VOLUME_PROVISIONER:
        kubectl(bin_dir, "delete", "storageclass", "standard")
        log(f"replaced StorageClass standard ({found.stdout} -> {VOLUME_PROVISIONER})")


def wait_for_nodes(bin_dir: Path) -> None:
    kubectl(bin_dir, "wait", "--for=condition=Ready", "node", "--all", f"--timeout={int(layout.STARTUP_TIMEOUT)}s")


def kubelet_endpoint_patch(node: dict) -> dict | None:
    """The status patch that sends the API server's kubelet requests for `node` to kwok, or None.

    A node only becomes Ready with its derived InternalIP and Hostname, which are kept: pods take
    their hostIP from the InternalIP. A merge patch replaces the whole address list, so the patch
    carries them along.
    """
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    patch: dict = {}
    if KUBELET_ADDRESS not in addresses:
        others = [address for address in addresses if address.get("type") != KUBELET_ADDRESS["type"]]
        patch["addresses"] = [*others, KUBELET_ADDRESS]
    if port != PORTS["kwok"]:
        patch["daemonEndpoints"] = {"kubeletEndpoint": {"Port": PORTS["kwok"]}}
    return {"status": patch} if patch else None


def point_nodes_at_kwok(bin_dir: Path) -> None:
    """Give every fake node kwok's kubelet endpoint; nodes made before it existed lack it.

    Runs after the nodes are Ready, when node-initialize has set their addresses. Nothing undoes
    the patch: node-initialize, run again on a node gone NotReady, keeps existing addresses and
    writes the same port.
    """
    nodes = json.loads(kubectl(bin_dir, "get", "nodes", "-o", "json"))["items"]
    for node in nodes:
        if (node["metadata"].get("annotations") or {}).get("kwok.x-k8s.io/node") != "fake":
            continue
        patch = kubelet_endpoint_patch(node)
        if patch:
            kubectl(bin_dir, "patch", "node", node["metadata"]["name"], "--subresource=status",
                    "--type=merge", "-p", json.dumps(patch))
            log(f"{node['metadata']['name']}: kubelet endpoint is now kwok's "
                f"{KUBELET_ADDRESS['address']}:{PORTS['kwok']}")
