"""The real node: containerd with runc and the CNI bridge, the kubelet and kube-proxy.

All three run in the node's network namespace (network.py) and keep their state under NODE.
This host has cgroup v1 (cgroup2 is mounted beside it at /sys/fs/cgroup/unified): Kubernetes
1.35+ refuses v1 unless the kubelet's config says `failCgroupV1: false`, which it does here.
The node's pods live under the cgroup CGROUP_ROOT of every v1 hierarchy, so `down` finds every
process the node started, and removes every cgroup, mount and folder it made.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

from . import network
from .images import DOCKER
from .layout import (CLUSTER_DOMAIN, CONTAINERD_SOCKET, HOST_ADDRESS, KUBELET_HOST_PATHS,
                     KUBELET_SYSCTLS, NODE, NODE_ADDRESS, NODE_NAME, NODE_NETNS, PKI, POD_CIDR, REGISTRY_HOSTS,
                     SandboxError, log)
from .supervisor import Component

CGROUP_ROOT = "/slipway"
CGROUPFS = Path("/sys/fs/cgroup")
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
KUBE_PROXY_HEALTHZ_PORT = 10256
RUNC = "/usr/sbin/runc"
CNI_PLUGINS = "/usr/lib/cni"
# What the node's folders are; containerd's state is what a reboot would wipe (a tmpfs on a
# real machine), so `down` removes it and a warm `up` starts from the kept images and root.
CONTAINERD_ROOT = NODE / "containerd"
CONTAINERD_STATE = NODE / "run"
KUBELET_ROOT = NODE / "kubelet"
# The kubelet's own home and working folder, where it would look for registry credentials.
KUBELET_HOME = NODE / "kubelet-home"
CNI_CONF = NODE / "cni"
HOST_STATE = NODE / "host-state.json"
PAUSE_REPOSITORY = "slipway/pause"


def pause_archive(bin_dir: Path) -> bytes:
    """The pause image's one layer: our pause binary as /pause (a tar without timestamps)."""
    binary = (bin_dir / "pause").read_bytes()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
    return archive.getvalue()


def pause_image(bin_dir: Path) -> str:
    """The pod sandbox image, tagged by its content."""
    return f"docker.io/{PAUSE_REPOSITORY}:{hashlib.sha256(pause_archive(bin_dir)).hexdigest()[:12]}"


def make_pause_image(bin_dir: Path) -> str:
    """Import the pause binary as an image into the sandbox's Docker engine (none can be pulled)."""
    image = pause_image(bin_dir)
    if subprocess.run([*DOCKER, "image", "inspect", image], capture_output=True).returncode == 0:
        return image
    result = subprocess.run([*DOCKER, "import", "--change", 'ENTRYPOINT ["/pause"]',
                             "--change", "USER 65535:65535", "-", image],
                            input=pause_archive(bin_dir), capture_output=True)
    if result.returncode != 0:
        raise SandboxError(f"docker import of the pause image failed: {result.stderr.decode().strip()}")
    log(f"made the pause image {image}")
    return image


def containerd_config(bin_dir: Path) -> str:
    return f"""version = 3
root = "{CONTAINERD_ROOT}"
state = "{CONTAINERD_STATE}"
# Plugins that would write outside the node's folders (/opt/containerd, /var/run/nri) or that a
# kubelet does not use.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.nri.v1.nri",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs",
]

[grpc]
  address = "{CONTAINERD_SOCKET}"

[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  disable_apparmor = true
  # This VM withholds CAP_SYS_RESOURCE: runc cannot lower a container's oom_score_adj below
  # containerd's own ("failed to update /proc/self/oom_score_adj: Permission denied").
  restrict_oom_score_adj = true
  # Pod network namespaces are mounted under the state folder, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{CNI_PLUGINS}"]
    conf_dir = "{CNI_CONF}"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{pause_image(bin_dir)}"
  # How to reach and trust each registry (the sandbox's own: registry.hosts_toml).
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "{REGISTRY_HOSTS}"

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""


def cni_config() -> dict:
    """One bridge in the node's namespace for every pod; no masquerade: pod traffic never leaves."""
    return {
        "cniVersion": "1.0.0",
        "name": "slipway-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                # A pod reaching itself through its Service comes back over the bridge.
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(POD_CIDR)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(NODE / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config() -> dict:
    ca = str(PKI / "ca.crt")
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_ADDRESS,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": NODE_ADDRESS,
        "healthzPort": KUBELET_HEALTHZ_PORT,
        "tlsCertFile": str(PKI / "node-serving.crt"),
        "tlsPrivateKeyFile": str(PKI / "node-serving.key"),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        # Requests come from the API server (logs, exec) and metrics-server, each checked.
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": ca}},
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": CGROUP_ROOT,
        # cgroup v1 is deprecated: Kubernetes 1.35+ refuses it unless told otherwise.
        "failCgroupV1": False,
        "failSwapOn": False,
        # No upstream resolver: pods get cluster DNS only, which answers nothing outside the cluster.
        "resolvConf": str(NODE / "resolv.conf"),
        "clusterDNS": [HOST_ADDRESS],
        "clusterDomain": CLUSTER_DOMAIN,
        "podLogsDir": str(NODE / "pod-logs"),
        "staticPodPath": "",
        # Nothing can be pulled, so images are never collected; eviction only under real pressure.
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "shutdownGracePeriod": "0s",
        "maxPods": 110,
        "serializeImagePulls": False,
    }


def kube_proxy_config() -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(PKI / "kube-proxy.kubeconfig")},
        "hostnameOverride": NODE_NAME,
        "mode": "nftables",
        "clusterCIDR": str(POD_CIDR),
        "nodePortAddresses": [f"{NODE_ADDRESS}/32"],
        "bindAddress": NODE_ADDRESS,
        "healthzBindAddress": f"{NODE_ADDRESS}:{KUBE_PROXY_HEALTHZ_PORT}",
        "metricsBindAddress": f"{NODE_ADDRESS}:10249",
        # Zeroes leave the host-wide conntrack settings alone (only the initial namespace owns them).
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


def write_if_changed(path: Path, content: str) -> None:
    """Write a config file only when it changes: kube-proxy exits when its file is rewritten."""
    if not path.exists() or path.read_text() != content:
        path.write_text(content)


def write_configs(bin_dir: Path) -> None:
    for folder in (NODE, CNI_CONF, KUBELET_ROOT, NODE / "pod-logs", KUBELET_HOME):
        folder.mkdir(parents=True, exist_ok=True)
    write_if_changed(NODE / "containerd.toml", containerd_config(bin_dir))
    write_if_changed(CNI_CONF / "10-slipway.conflist", json.dumps(cni_config(), indent=2) + "\n")
    write_if_changed(NODE / "kubelet.json", json.dumps(kubelet_config(), indent=2) + "\n")
    write_if_changed(NODE / "kube-proxy.json", json.dumps(kube_proxy_config(), indent=2) + "\n")
    write_if_changed(NODE / "resolv.conf", "")


def components(bin_dir: Path) -> list[Component]:
    """The node's processes, in start order."""
    # containerd finds its shim and runc by PATH.
    path = f"{bin_dir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    return [
        Component("containerd", [str(bin_dir / "containerd"), f"--config={NODE / 'containerd.toml'}"],
                  health=f"cri:{CONTAINERD_SOCKET}", env={"PATH": path}, netns=NODE_NETNS),
        Component(
            "kubelet",
            [str(bin_dir / "kubelet"), f"--config={NODE / 'kubelet.json'}",
             f"--kubeconfig={PKI / 'node.kubeconfig'}", f"--hostname-override={NODE_NAME}",
             f"--node-ip={NODE_ADDRESS}", f"--root-dir={KUBELET_ROOT}", f"--cert-dir={PKI}",
             "--node-labels=type=real", "--v=1"],
            health=f"http://{NODE_ADDRESS}:{KUBELET_HEALTHZ_PORT}/healthz",
            # The kubelet takes registry credentials from $HOME/.docker/config.json and its working
            # folder too: a home and folder of its own, so the host's `docker login` (the image
            # phase's) is not the node's, and pods pull with their pull Secrets only, as on a
            # cluster whose nodes are other machines.
            env={"PATH": path, "HOME": str(KUBELET_HOME)}, cwd=KUBELET_HOME, netns=NODE_NETNS,
        ),
        Component(
            "kube-proxy",
            [str(bin_dir / "kube-proxy"), f"--config={NODE / 'kube-proxy.json'}", "--v=1"],
            health=f"http://{NODE_ADDRESS}:{KUBE_PROXY_HEALTHZ_PORT}/livez", netns=NODE_NETNS,
        ),
    ]


# --- the host: what the kubelet changes outside its folders -----------------------------------


def record_host_state() -> None:
    """Note the host settings the kubelet will change and the host folders it will make, once."""
    if HOST_STATE.exists():
        return
    NODE.mkdir(parents=True, exist_ok=True)
    state = {
        "sysctls": {name: Path("/proc/sys", name).read_text().strip() for name in KUBELET_SYSCTLS},
        "made_paths": [str(path) for path in KUBELET_HOST_PATHS if not path.exists()],
    }
    HOST_STATE.write_text(json.dumps(state, indent=2) + "\n")


def restore_host_state() -> None:
    if not HOST_STATE.exists():
        return
    state = json.loads(HOST_STATE.read_text())
    for name, value in state["sysctls"].items():
        current = Path("/proc/sys", name).read_text().strip()
        if current != value:
            Path("/proc/sys", name).write_text(value)
            log(f"restored {name.replace('/', '.')} = {value} (the kubelet had set {current})")
    for path in state["made_paths"]:
        if Path(path).exists():
            shutil.rmtree(path)
            log(f"removed {path}")
    HOST_STATE.unlink()


def cgroup_dirs() -> list[Path]:
    """CGROUP_ROOT in every cgroup v1 hierarchy (the kubelet refuses a root that does not exist)."""
    return [hierarchy / CGROUP_ROOT.lstrip("/") for hierarchy in sorted(CGROUPFS.iterdir())
            if hierarchy.is_dir() and hierarchy.name != "unified" and (hierarchy / "cgroup.procs").exists()]


def make_cgroups() -> None:
    for folder in cgroup_dirs():
        folder.mkdir(exist_ok=True)
    # cpuset children start with no CPUs or memory nodes: give the root the machine's.
    cpuset = CGROUPFS / "cpuset"
    for setting in ("cpuset.cpus", "cpuset.mems"):
        target = cpuset / CGROUP_ROOT.lstrip("/") / setting
        if target.exists() and not target.read_text().strip():
            target.write_text((cpuset / setting).read_text())


def node_pids() -> set[int]:
    """Every process in the node's cgroups: the pods' containers."""
    pids: set[int] = set()
    for folder in cgroup_dirs():
        if folder.exists():
            for procs in folder.rglob("cgroup.procs"):
                pids.update(int(line) for line in procs.read_text().split())
    return pids


def shim_pids() -> set[int]:
    """containerd's shims for this node (they outlive containerd, as on a real node)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"containerd-shim-runc-v2" and any(
                str(CONTAINERD_SOCKET).encode() in arg for arg in argv):
            found.add(int(proc.name))
    return found


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def node_mounts() -> list[str]:
    """Mount points under the node's folders, deepest first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == str(NODE) or point.startswith(f"{NODE}/"):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def remove_cgroups() -> None:
    for folder in cgroup_dirs():
        if not folder.exists():
            continue
        for child in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                            reverse=True):
            child.rmdir()
        folder.rmdir()


def clean_up() -> None:
    """After the node's processes are stopped: its pods, mounts, cgroups and network go too."""
    kill_all(node_pids() | shim_pids())
    for point in node_mounts():
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", point], check=False)
    if CONTAINERD_STATE.exists():
        shutil.rmtree(CONTAINERD_STATE)
    remove_cgroups()
    network.down()
    restore_host_state()


def prepare(bin_dir: Path) -> None:
    """Everything the node's processes need before they start."""
    if not Path(RUNC).exists() or not Path(CNI_PLUGINS, "bridge").exists():
        raise SandboxError(f"{RUNC} or {CNI_PLUGINS}/bridge is missing: run `make deps` "
                           "(apt-get install runc containernetworking-plugins)")
    record_host_state()
    network.up()
    make_cgroups()
    write_configs(bin_dir)
