"""Where the sandbox keeps its state and which addresses and ports it uses.

Everything listens on 127.0.0.1, on the sandbox's own bridge, or inside the node's own network
namespace; nothing is reachable from, or sends traffic to, any other address.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SLIPWAY_CACHE", Path.home() / ".cache" / "slipway"))
STATE = Path(os.environ.get("SLIPWAY_SANDBOX_STATE", CACHE / "sandbox"))
NODE_COUNT = int(os.environ.get("SLIPWAY_SANDBOX_NODES", "3"))
# Small enough that an over-sized request is really unschedulable, large enough for the demo
# app with its HPA at full size.
NODE_CPU = os.environ.get("SLIPWAY_SANDBOX_NODE_CPU", "4")
NODE_MEMORY = os.environ.get("SLIPWAY_SANDBOX_NODE_MEMORY", "8Gi")
NODE_PODS = os.environ.get("SLIPWAY_SANDBOX_NODE_PODS", "110")

PORTS = {
    "etcd": 12379,
    "etcd-peer": 12380,
    "kube-apiserver": 16443,
    "kube-controller-manager": 16257,
    "kube-scheduler": 16259,
    "kwok": 16247,
    # Host processes of the add-ons.
    "coredns-health": 16053,
    "ingress-http": 18080,
    "ingress-ping": 16082,
    "metrics-server": 16444,
    "volumes-health": 16445,
    "projects-health": 16446,
    # The image registry (on the bridge, where the node pulls) and its health endpoint, and the
    # Docker engine's TLS endpoint (as `minikube docker-env` names a node's daemon).
    "registry": 15000,
    "registry-debug": 15001,
    "docker-tls": 12376,
}
SERVICE_CIDR = "10.96.0.0/16"
# The real node's network, apart from kwok's pod range (10.244.0.0/16) and the Service range:
# the host's end of the bridge, the node's own address on it, and the node's pod range.
BRIDGE = "slipway0"
BRIDGE_CIDR = ipaddress.ip_interface("10.89.0.1/24")
HOST_ADDRESS = str(BRIDGE_CIDR.ip)
NODE_ADDRESS = "10.89.0.2"
POD_CIDR = ipaddress.ip_network("10.89.1.0/24")
NODE_NETNS = "slipway-node"
NODE_NAME = "slipway-node"
# The node's end of the veth pair, as the host sees it before it moves into the namespace.
NODE_VETH = "slipway-n0"
CLUSTER_DOMAIN = "cluster.local"
INGRESS_CLASS = "nginx"
# kwok's nodes carry this taint so that only pods that ask for simulated nodes land there
# (the bench's thousands of pods, faults a real node cannot make); everything else runs for real.
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
# What a pod spec adds to land on kwok's nodes only (tests of simulated faults, the bench).
KWOK_PLACEMENT = {"nodeSelector": {"type": "kwok"},
                  "tolerations": [{**KWOK_TAINT, "operator": "Equal"}]}

# Where the API server reaches every kwok node's "kubelet" (kwok's server) for logs: their
# InternalIPs are derived 10.255.x.y addresses that nothing listens on, so each kwok node also
# names this address, of a type the API server prefers; the real node has no ExternalIP, so the
# API server falls back to its InternalIP (--kubelet-preferred-address-types).
KUBELET_ADDRESS = {"type": "ExternalIP", "address": "127.0.0.1"}
STARTUP_TIMEOUT = 120.0

PKI = STATE / "pki"
LOGS = STATE / "logs"
RUN = STATE / "run"
KUBECONFIG = STATE / "kubeconfig"
DOCKER = STATE / "docker"
DOCKER_SOCKET = DOCKER / "docker.sock"
# A client's certificates for the engine's TLS endpoint, in DOCKER_CERT_PATH's layout.
DOCKER_CERTS = DOCKER / "client-certs"
REGISTRY = STATE / "registry"
NODE = STATE / "node"
# containerd's registry hosts folder (config_path of its CRI images plugin; registry.py fills it).
REGISTRY_HOSTS = NODE / "certs.d"
CONTAINERD_SOCKET = NODE / "containerd.sock"
# Host paths the kubelet and the CNI plugins write whatever their configured folders: removed on
# `down` when the sandbox made them (see node.HOST_PATHS_STATE).
KUBELET_HOST_PATHS = (Path("/var/lib/kubelet"), Path("/var/log/containers"), Path("/var/log/pods"),
                      Path("/var/lib/cni"))
# Host-wide kernel settings the kubelet changes while it runs; recorded before it first starts
# and put back on `down`.
KUBELET_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")


class SandboxError(Exception):
    """A failure the user can act on; printed without a traceback."""


def log(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)
