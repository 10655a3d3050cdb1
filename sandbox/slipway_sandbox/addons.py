"""What a cluster has beside its nodes, as host processes: the API server's address on the bridge,
cluster DNS, an Ingress controller, metrics-server, the volume provisioner and the stand-in for
OpenShift's ProjectRequest API (openshift.py).

Each runs on the host with an identity of its own (pki.IDENTITIES) bound to a ClusterRole below,
and listens on 127.0.0.1 or on the bridge's HOST_ADDRESS only.
"""

from __future__ import annotations

import base64
from pathlib import Path

from . import node
from .control_plane import VOLUME_PROVISIONER
from .layout import CLUSTER_DOMAIN, HERE, HOST_ADDRESS, INGRESS_CLASS, NODE, PKI, PORTS, STATE
from .supervisor import Component

INGRESS_CONTROLLER = "traefik.io/ingress-controller"
# The provisioner and the projects reconciler are Python with the kubernetes client: the project's
# virtualenv, named by its path so that `down`, run by any Python, finds the same process.
VENV_PYTHON = HERE.parent / ".venv" / "bin" / "python"
VOLUMES = STATE / "volumes"


def corefile() -> str:
    """Cluster names from the API; nothing else is answered, so nothing is ever forwarded."""
    return f"""{CLUSTER_DOMAIN}:53 in-addr.arpa:53 {{
    bind {HOST_ADDRESS}
    errors
    health 127.0.0.1:{PORTS['coredns-health']}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa {{
        kubeconfig {PKI / 'coredns.kubeconfig'} coredns
        pods insecure
    }}
    cache 5
}}
.:53 {{
    bind {HOST_ADDRESS}
    errors
    template ANY ANY {{
        rcode NXDOMAIN
    }}
}}
"""


def network_services(bin_dir: Path) -> list[Component]:
    """What the node needs on the bridge before it starts: the API server's address and DNS."""
    return [
        # The API server listens on 127.0.0.1 only; the node and its pods reach it here.
        Component(
            "apiserver-forwarder",
            ["socat", f"TCP-LISTEN:{PORTS['kube-apiserver']},bind={HOST_ADDRESS},reuseaddr,fork",
             f"TCP:127.0.0.1:{PORTS['kube-apiserver']}"],
            health=f"https://{HOST_ADDRESS}:{PORTS['kube-apiserver']}/readyz",
        ),
        Component("coredns", [str(bin_dir / "coredns"), "-conf", str(NODE / "Corefile")],
                  health=f"http://127.0.0.1:{PORTS['coredns-health']}/health", port=PORTS["coredns-health"]),
    ]


def write_configs() -> None:
    NODE.mkdir(parents=True, exist_ok=True)
    node.write_if_changed(NODE / "Corefile", corefile())


def components(bin_dir: Path) -> list[Component]:
    """The add-ons that work on the cluster's objects, in start order (after the node)."""
    serving = [f"--tls-cert-file={PKI / 'serving.crt'}", f"--tls-private-key-file={PKI / 'serving.key'}"]
    metrics_kubeconfig = PKI / "metrics-server.kubeconfig"
    return [
        Component(
            "volumes",
            [str(VENV_PYTHON), "-m", "slipway_sandbox.volumes", f"--kubeconfig={PKI / 'volumes.kubeconfig'}",
             f"--root={VOLUMES}", f"--provisioner={VOLUME_PROVISIONER}",
             f"--health-port={PORTS['volumes-health']}"],
            health=f"http://127.0.0.1:{PORTS['volumes-health']}/healthz", port=PORTS["volumes-health"],
            cwd=HERE,
        ),
        # Serves the OpenShift shape's ProjectRequests, which exist whenever the shape does.
        Component(
            "projects",
            [str(VENV_PYTHON), "-m", "slipway_sandbox.projects", f"--kubeconfig={PKI / 'projects.kubeconfig'}",
             f"--health-port={PORTS['projects-health']}"],
            health=f"http://127.0.0.1:{PORTS['projects-health']}/healthz", port=PORTS["projects-health"],
            cwd=HERE,
        ),
        Component(
            "traefik",
            [str(bin_dir / "traefik"),
             f"--entryPoints.web.address=127.0.0.1:{PORTS['ingress-http']}",
             f"--entryPoints.ping.address=127.0.0.1:{PORTS['ingress-ping']}",
             "--ping=true", "--ping.entryPoint=ping",
             "--providers.kubernetesIngress=true",
             f"--providers.kubernetesIngress.ingressClass={INGRESS_CLASS}",
             # Ingresses show where they are served, as a cloud load balancer's address would.
             "--providers.kubernetesIngress.ingressEndpoint.ip=127.0.0.1",
             "--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
             "--log.level=INFO", "--accessLog=true"],
            health=f"http://127.0.0.1:{PORTS['ingress-ping']}/ping", port=PORTS["ingress-http"],
            env={"KUBECONFIG": str(PKI / "ingress.kubeconfig")},
        ),
        Component(
            "metrics-server",
            [str(bin_dir / "metrics-server"),
             f"--kubeconfig={metrics_kubeconfig}", f"--authentication-kubeconfig={metrics_kubeconfig}",
             f"--authorization-kubeconfig={metrics_kubeconfig}",
             f"--bind-address={HOST_ADDRESS}", f"--secure-port={PORTS['metrics-server']}", *serving,
             f"--requestheader-client-ca-file={PKI / 'ca.crt'}",
             f"--kubelet-certificate-authority={PKI / 'ca.crt'}",
             f"--kubelet-client-certificate={PKI / 'metrics-server.crt'}",
             f"--kubelet-client-key={PKI / 'metrics-server.key'}",
             "--kubelet-preferred-address-types=InternalIP",
             # kwok's nodes have no kubelet to scrape.
             "--node-selector=type=real",
             "--metric-resolution=15s"],
            health=f"https://{HOST_ADDRESS}:{PORTS['metrics-server']}/livez",
        ),
    ]


def cluster_role(name: str, rules: list[dict]) -> list[dict]:
    user = f"slipway:{name}"
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": user}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": user},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]},
    ]


def cluster_objects() -> list[dict]:
    read = ["get", "list", "watch"]
    ca_bundle = base64.b64encode((PKI / "ca.crt").read_bytes()).decode()
    return [
        *cluster_role("coredns", [
            {"apiGroups": [""], "resources": ["services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ]),
        *cluster_role("ingress", [
            {"apiGroups": [""], "resources": ["services", "secrets", "nodes"], "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingressclasses"], "verbs": read},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update"]},
        ]),
        *cluster_role("volumes", [
            {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": read},
            {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": [*read, "create", "delete"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": read},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        ]),
        *cluster_role("metrics-server", [
            {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": read},
        ]),
        # Delegated authentication: metrics-server reads the request-header CA from kube-system.
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "slipway:metrics-server:auth-reader", "namespace": "kube-system"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "extension-apiserver-authentication-reader"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "slipway:metrics-server"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "slipway:metrics-server:auth-delegator"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "slipway:metrics-server"}]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
         "metadata": {"name": INGRESS_CLASS}, "spec": {"controller": INGRESS_CONTROLLER}},
        # metrics.k8s.io, served by the host's metrics-server on the bridge address.
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "metrics-server", "namespace": "kube-system"},
         "spec": {"ports": [{"name": "https", "port": 443, "targetPort": PORTS["metrics-server"]}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "metrics-server", "namespace": "kube-system",
                      "labels": {"kubernetes.io/service-name": "metrics-server",
                                 "endpointslice.kubernetes.io/managed-by": "slipway-sandbox"}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": [HOST_ADDRESS], "conditions": {"ready": True}}],
         "ports": [{"name": "https", "port": PORTS["metrics-server"], "protocol": "TCP"}]},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1beta1.metrics.k8s.io"},
         "spec": {"service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
                  "group": "metrics.k8s.io", "version": "v1beta1", "caBundle": ca_bundle,
                  "groupPriorityMinimum": 100, "versionPriority": 100}},
    ]
