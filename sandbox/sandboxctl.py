#!/usr/bin/env python3
"""Start, stop and inspect slipway's sandbox cluster.

The sandbox is a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) whose nodes and pod lifecycles are simulated by kwok, plus a private Docker
engine that plays the part of `minikube docker-env`. Everything listens on 127.0.0.1 only and
keeps its state under one folder, so it never touches a system Docker or another cluster.

Usage: sandboxctl.py up | down [--purge] | restart COMPONENT | status | env
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
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
}
SERVICE_CIDR = "10.96.0.0/16"
# Where the API server reaches every node's "kubelet" (kwok's server) for logs: the nodes'
# InternalIPs are derived 10.255.x.y addresses that nothing listens on, so each node also names
# this address, of a type the API server is told to prefer (--kubelet-preferred-address-types).
KUBELET_ADDRESS = {"type": "ExternalIP", "address": "127.0.0.1"}
# The controllers' and the scheduler's default client rate limits (20 and 50 requests a second)
# made a 2,000-pod rollout take 12 minutes; kwok's client is unlimited already. The API server's
# own priority and fairness stays on: what it admits is what a real cluster would.
UNTHROTTLED_CLIENT = ("--kube-api-qps=5000", "--kube-api-burst=10000")
STARTUP_TIMEOUT = 120.0

PKI = STATE / "pki"
LOGS = STATE / "logs"
RUN = STATE / "run"
KUBECONFIG = STATE / "kubeconfig"
DOCKER = STATE / "docker"
DOCKER_SOCKET = DOCKER / "docker.sock"


class SandboxError(Exception):
    """A failure the user can act on; printed without a traceback."""


def log(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


# --- binaries -------------------------------------------------------------------------------


def binaries() -> Path:
    """Build (or find in the cache) the pinned binaries and return their folder."""
    result = subprocess.run([str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SandboxError("building the sandbox binaries failed (the Go error is above)")
    return Path(result.stdout.strip().splitlines()[-1])


# --- PKI ------------------------------------------------------------------------------------


def ensure_pki() -> None:
    """Create a CA, one serving certificate for 127.0.0.1 and one client certificate per user.

    Client certificates give each component its real identity, so RBAC is exercised as on a
    real cluster (the admin is in system:masters, the controllers are not).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if (PKI / "complete").exists():
        return
    PKI.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = now + datetime.timedelta(days=3650)

    def write_key(name: str, key) -> None:
        path = PKI / f"{name}.key"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)

    def write_cert(name: str, cert) -> None:
        (PKI / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slipway-sandbox-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_key("ca", ca_key)
    write_cert("ca", ca_cert)

    def issue(name: str, common_name: str, organization: str | None, server: bool) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            service_ip = next(ipaddress.ip_network(SERVICE_CIDR).hosts())
            names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local"]
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(n) for n in names]
                    + [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(service_ip)]
                ),
                critical=False,
            )
        write_key(name, key)
        write_cert(name, builder.sign(ca_key, hashes.SHA256()))

    issue("serving", "slipway-sandbox", None, server=True)
    issue("admin", "slipway-admin", "system:masters", server=False)
    issue("controller-manager", "system:kube-controller-manager", None, server=False)
    issue("scheduler", "system:kube-scheduler", None, server=False)
    issue("kwok", "kwok", "system:masters", server=False)

    service_account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_key("service-account", service_account_key)
    (PKI / "service-account.pub").write_bytes(
        service_account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (PKI / "complete").touch()


def kubeconfig_for(user: str) -> Path:
    """Write a kubeconfig that authenticates as `user` with its client certificate."""
    server = f"https://127.0.0.1:{PORTS['kube-apiserver']}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "slipway-sandbox",
                      "cluster": {"server": server, "certificate-authority": str(PKI / "ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate": str(PKI / f"{user}.crt"),
                                          "client-key": str(PKI / f"{user}.key")}}],
        "contexts": [{"name": "slipway-sandbox" if user == "admin" else user,
                      "context": {"cluster": "slipway-sandbox", "user": user}}],
    }
    config["current-context"] = config["contexts"][0]["name"]
    path = KUBECONFIG if user == "admin" else PKI / f"{user}.kubeconfig"
    # JSON is YAML: no YAML library needed before the virtualenv exists.
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path


# --- processes ------------------------------------------------------------------------------


@dataclass
class Component:
    name: str
    argv: list[str]
    health: str  # URL, or "unix:" + socket path
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    @property
    def pidfile(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return LOGS / f"{self.name}.log"


def running_pid(pidfile: Path, binary: str) -> int | None:
    """The pid in `pidfile` if that process is alive and runs `binary`; a stale file is removed."""
    try:
        recorded = pidfile.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        pid = int(recorded)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (ValueError, FileNotFoundError, ProcessLookupError):
        cmdline = ""
    if os.path.basename(cmdline) == binary:
        return pid
    log(f"removing stale pid file {pidfile} ({recorded!r} is not a running {binary}"
        + (f"; that pid is now {cmdline})" if cmdline else ")"))
    pidfile.unlink(missing_ok=True)
    return None


def port_owner(port: int) -> str | None:
    """Who listens on 127.0.0.1:port, or None when the port is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return None
        except OSError:
            pass
    if shutil.which("ss"):
        listing = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True)
        if listing.stdout.strip():
            return listing.stdout.split("users:", 1)[-1].strip()
    return "an unknown process"


def healthy(component: Component, ssl_context: ssl.SSLContext) -> bool:
    if component.health.startswith("unix:"):
        with socket.socket(socket.AF_UNIX) as client:
            try:
                client.connect(component.health[len("unix:"):])
                client.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b" 200 " in client.recv(64)
            except OSError:
                return False
    try:
        with urllib.request.urlopen(component.health, timeout=2, context=ssl_context) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(component: Component, ssl_context: ssl.SSLContext) -> None:
    binary = os.path.basename(component.argv[0])
    pid = running_pid(component.pidfile, binary)
    if pid is not None:
        log(f"{component.name} already running (pid {pid})")

        def alive() -> bool:
            return running_pid(component.pidfile, binary) is not None
    else:
        if component.port is not None:
            owner = port_owner(component.port)
            if owner:
                raise SandboxError(
                    f"port 127.0.0.1:{component.port} that {component.name} needs is taken by "
                    f"{owner}; stop it, or stop the other sandbox with `make sandbox-down`"
                )
        component.logfile.parent.mkdir(parents=True, exist_ok=True)
        with component.logfile.open("ab") as output:
            process = subprocess.Popen(
                component.argv,
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, **component.env}, cwd=component.cwd,
            )
        component.pidfile.write_text(f"{process.pid}\n")
        log(f"started {component.name} (pid {process.pid}, log {component.logfile})")

        def alive() -> bool:
            # Our own child: poll() is exact, where /proc may still show this script before exec.
            return process.poll() is None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not healthy(component, ssl_context):
        if not alive():
            component.pidfile.unlink(missing_ok=True)
            tail = component.logfile.read_text(errors="replace").splitlines()[-25:]
            raise SandboxError(f"{component.name} exited during start-up; its log ends with:\n"
                               + "\n".join(tail))
        if time.monotonic() > deadline:
            raise SandboxError(f"{component.name} not healthy after {STARTUP_TIMEOUT:.0f}s; "
                               f"see {component.logfile}")
        time.sleep(0.2)


def stop(component: Component) -> None:
    pid = running_pid(component.pidfile, os.path.basename(component.argv[0]))
    if pid is None:
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            break
        time.sleep(0.1)
    else:
        if Path(f"/proc/{pid}").exists():
            os.killpg(pid, signal.SIGKILL)
    component.pidfile.unlink(missing_ok=True)
    log(f"stopped {component.name} (pid {pid})")


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
    """The sandbox's processes, in start order."""
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
             # Lets the controllers' and scheduler's delegated authentication load its CA bundle.
             f"--requestheader-client-ca-file={ca}", "--requestheader-allowed-names=front-proxy-client",
             "--requestheader-username-headers=X-Remote-User",
             "--requestheader-group-headers=X-Remote-Group",
             "--requestheader-extra-headers-prefix=X-Remote-Extra-",
             f"--service-account-key-file={pki}/service-account.pub",
             f"--service-account-signing-key-file={pki}/service-account.key",
             "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
             f"--service-cluster-ip-range={SERVICE_CIDR}",
             "--authorization-mode=Node,RBAC",
             # PodSecurity is on by default; named so the intent is visible.
             "--enable-admission-plugins=NodeRestriction,PodSecurity,ResourceQuota,LimitRanger",
             # Loopback addresses are not valid endpoints of the `kubernetes` Service.
             "--endpoint-reconciler-type=none",
             "--allow-privileged=true",
             # Logs come from kwok's server, reached by the nodes' 127.0.0.1 ExternalIP and
             # kubelet port; its certificate is checked like a real kubelet's.
             f"--kubelet-preferred-address-types={KUBELET_ADDRESS['type']}",
             f"--kubelet-certificate-authority={ca}",
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
             # Real dynamic provisioning for volume claim templates (host paths, single machine).
             "--enable-hostpath-provisioner=true",
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
             "--manage-all-nodes=false",
             "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
             # Room for a few thousand pods; the default /24 runs out at 254.
             "--cidr=10.244.0.0/16",
             # No node leases: a restarted kwok would wait for the old ones to expire.
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
             f"--data-root={DOCKER / 'data'}", f"--exec-root={DOCKER / 'exec'}",
             f"--pidfile={DOCKER / 'dockerd.pid'}"],
            health=f"unix:{DOCKER_SOCKET}",
        ),
    ]


# --- cluster objects ------------------------------------------------------------------------


def kubectl(bin_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [str(bin_dir / "kubectl"), f"--kubeconfig={KUBECONFIG}", *args],
        input=stdin, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SandboxError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def cluster_objects() -> list[dict]:
    """Fake nodes and the default StorageClass the sandbox provides."""
    nodes = [
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
            "spec": {},
            "status": {
                "nodeInfo": {"kubeletVersion": binaries_versions()["KUBERNETES_VERSION"]},
                "allocatable": {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": NODE_PODS},
                "capacity": {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": NODE_PODS},
            },
        }
        for index in range(NODE_COUNT)
    ]
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "standard",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kubernetes.io/host-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }
    return [*nodes, storage_class]


def wait_for_nodes(bin_dir: Path) -> None:
    kubectl(bin_dir, "wait", "--for=condition=Ready", "node", "--all", f"--timeout={int(STARTUP_TIMEOUT)}s")


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


# --- commands -------------------------------------------------------------------------------


def admin_ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
    context.load_cert_chain(str(PKI / "admin.crt"), str(PKI / "admin.key"))
    return context


def command_up() -> None:
    if not shutil.which("dockerd"):
        raise SandboxError("dockerd is not installed: run `make deps` (apt-get install docker.io)")
    bin_dir = binaries()
    for folder in (STATE, LOGS, RUN, DOCKER):
        folder.mkdir(parents=True, exist_ok=True)
    ensure_pki()
    for user in ("admin", "controller-manager", "scheduler", "kwok"):
        kubeconfig_for(user)
    context = admin_ssl_context()
    for component in components(bin_dir):
        start(component, context)
    kubectl(bin_dir, "apply", "--server-side", "--field-manager=slipway-sandbox", "-f", "-",
            stdin="\n".join(json.dumps(obj) for obj in cluster_objects()))
    wait_for_nodes(bin_dir)
    point_nodes_at_kwok(bin_dir)
    log(f"up: {NODE_COUNT} nodes Ready; `eval \"$(make -s sandbox-env)\"` to use it")


def command_down(purge: bool) -> None:
    bin_dir = binaries_if_built()
    for component in reversed(components(bin_dir)):
        stop(component)
    if purge and STATE.exists():
        # dockerd's vfs layers may hold read-only folders; make them removable first.
        subprocess.run(["chmod", "-R", "u+w", str(STATE)], check=False)
        shutil.rmtree(STATE)
        log(f"removed {STATE}")


def command_restart(name: str) -> None:
    """Stop one component and start it again (e.g. to test clients across an API server restart)."""
    bin_dir = binaries_if_built()
    by_name = {component.name: component for component in components(bin_dir)}
    if name not in by_name:
        raise SandboxError(f"no component {name!r}; the sandbox has {', '.join(by_name)}")
    stop(by_name[name])
    start(by_name[name], admin_ssl_context())


def binaries_versions() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (HERE / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )


def binaries_if_built() -> Path:
    """The bin folder's path for the pinned versions, built or not (stopping needs no build)."""
    versions = binaries_versions()
    return CACHE / "bin" / (
        f"k8s-{versions['KUBERNETES_VERSION']}-etcd-{versions['ETCD_VERSION']}"
        f"-kwok-{versions['KWOK_VERSION']}"
    )


def command_status() -> int:
    bin_dir = binaries_if_built()
    context = admin_ssl_context() if (PKI / "complete").exists() else ssl.create_default_context()
    ok = True
    for component in components(bin_dir):
        pid = running_pid(component.pidfile, os.path.basename(component.argv[0]))
        state = "stopped"
        if pid is not None:
            state = f"running (pid {pid}), " + ("healthy" if healthy(component, context) else "NOT healthy")
        ok = ok and pid is not None and state.endswith("healthy") and "NOT" not in state
        print(f"{component.name:24} {state}")
    if ok:
        print(kubectl(bin_dir, "get", "nodes", "-o", "wide").rstrip())
    return 0 if ok else 1


def command_env() -> None:
    print(f"export KUBECONFIG={KUBECONFIG}")
    print(f"export DOCKER_HOST=unix://{DOCKER_SOCKET}")
    print(f"export PATH={binaries_if_built()}:$PATH")
    print("# To use the sandbox in this shell: eval \"$(make -s sandbox-env)\"")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build if needed and start (running parts are left alone)")
    down = commands.add_parser("down", help="stop every process; state is kept for a warm start")
    down.add_argument("--purge", action="store_true", help="also delete the cluster's state")
    restart = commands.add_parser("restart", help="stop one component and start it again")
    restart.add_argument("component", help="etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok or dockerd")
    commands.add_parser("status", help="show each process and the nodes; non-zero unless all up")
    commands.add_parser("env", help="print export lines for KUBECONFIG, DOCKER_HOST and PATH")
    args = parser.parse_args()
    try:
        if args.command == "up":
            command_up()
        elif args.command == "down":
            command_down(args.purge)
        elif args.command == "restart":
            command_restart(args.component)
        elif args.command == "status":
            return command_status()
        else:
            command_env()
    except SandboxError as error:
        log(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
