"""sandboxctl's commands: up, down, restart, status, env and load-images."""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import subprocess
from pathlib import Path

from . import addons, control_plane, images, node, openshift, registry
from .layout import (DOCKER, DOCKER_CERTS, DOCKER_SOCKET, HERE, HOST_ADDRESS, KUBECONFIG, LOGS, NODE_COUNT, PKI, PORTS, RUN,
                     STATE, SandboxError, log)
from .pki import IDENTITIES, ensure_pki, kubeconfig_for
from .supervisor import Component, start, status_line, stop

# The identities whose processes run in the node's namespace, where 127.0.0.1 is the node's own.
NODE_IDENTITIES = ("node", "kube-proxy")
REQUIRED_COMMANDS = {
    "dockerd": "docker.io", "socat": "socat", "nft": "nftables", "nsenter": "util-linux", "ip": "iproute2",
}


def binaries() -> Path:
    """Build (or find in the cache) the pinned binaries and return their folder."""
    result = subprocess.run([str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SandboxError("building the sandbox binaries failed (the Go error is above)")
    return Path(result.stdout.strip().splitlines()[-1])


def binaries_if_built() -> Path:
    """The bin folder's path for the pinned versions, built or not (stopping needs no build)."""
    result = subprocess.run([str(HERE / "build.sh"), "--print-dir"], stdout=subprocess.PIPE, text=True,
                            check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def components(bin_dir: Path) -> list[Component]:
    """Every process of the sandbox, in start order."""
    return [*control_plane.components(bin_dir), *addons.network_services(bin_dir), registry.component(bin_dir),
            *node.components(bin_dir), *addons.components(bin_dir)]


def admin_ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
    context.load_cert_chain(str(PKI / "admin.crt"), str(PKI / "admin.key"))
    return context


def write_docker_client_certs() -> None:
    """The engine's TLS client certificates where DOCKER_CERT_PATH expects them."""
    DOCKER_CERTS.mkdir(parents=True, exist_ok=True)
    for source, target in (("ca.crt", "ca.pem"), ("docker-client.crt", "cert.pem"), ("docker-client.key", "key.pem")):
        shutil.copyfile(PKI / source, DOCKER_CERTS / target)
    (DOCKER_CERTS / "key.pem").chmod(0o600)


def check_commands() -> None:
    missing = sorted({package for command, package in REQUIRED_COMMANDS.items() if not shutil.which(command)})
    if missing:
        raise SandboxError(f"missing Debian packages {', '.join(missing)}: run `make deps`")


def command_up() -> None:
    check_commands()
    bin_dir = binaries()
    for folder in (STATE, LOGS, RUN, DOCKER):
        folder.mkdir(parents=True, exist_ok=True)
    ensure_pki()
    write_docker_client_certs()
    for identity in IDENTITIES:
        if identity.kubernetes_user and not identity.server:
            kubeconfig_for(identity.name, server=f"https://{HOST_ADDRESS}:{PORTS['kube-apiserver']}"
                           if identity.name in NODE_IDENTITIES else None)
    context = admin_ssl_context()
    by_name = {component.name: component for component in components(bin_dir)}
    for component in control_plane.components(bin_dir):
        start(component, context)
    control_plane.replace_storage_class(bin_dir)
    control_plane.apply(bin_dir, [*control_plane.kwok_nodes(), control_plane.storage_class(),
                                  *control_plane.api_server_endpoints(), *addons.cluster_objects(),
                                  *openshift.cluster_objects()])
    node.prepare(bin_dir)
    addons.write_configs()
    registry.prepare()
    for component in [*addons.network_services(bin_dir), by_name["registry"]]:
        start(component, context)
    start(by_name["containerd"], context)
    images.load(bin_dir, [node.make_pause_image(bin_dir)])
    for component in [by_name["kubelet"], by_name["kube-proxy"], *addons.components(bin_dir)]:
        start(component, context)
    control_plane.wait_for_nodes(bin_dir)
    control_plane.point_nodes_at_kwok(bin_dir)
    log(f"up: {NODE_COUNT} kwok nodes and {node.NODE_NAME} Ready; Ingress at http://<host>.localhost:"
        f"{PORTS['ingress-http']}/; `eval \"$(make -s sandbox-env)\"` to use it")


def command_down(purge: bool) -> None:
    bin_dir = binaries_if_built()
    for component in reversed(components(bin_dir)):
        stop(component)
    node.clean_up()
    registry.clean_up()
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


def command_status() -> int:
    bin_dir = binaries_if_built()
    context = admin_ssl_context() if (PKI / "complete").exists() else ssl.create_default_context()
    ok = True
    for component in components(bin_dir):
        healthy, state = status_line(component, context)
        ok = ok and healthy
        print(f"{component.name:24} {state}")
    if ok:
        print(control_plane.kubectl(bin_dir, "get", "nodes", "-o", "wide").rstrip())
    return 0 if ok else 1


def command_env() -> None:
    print(f"export KUBECONFIG={KUBECONFIG}")
    print(f"export DOCKER_HOST=unix://{DOCKER_SOCKET}")
    print(f"export PATH={binaries_if_built()}:$PATH")
    print(f"export SLIPWAY_SANDBOX_INGRESS_PORT={PORTS['ingress-http']}")
    # For tests of the remote and minikube paths: the registry and the engine's TLS endpoint.
    print(f"export SLIPWAY_SANDBOX_REGISTRY={registry.ADDRESS}")
    print(f"export SLIPWAY_SANDBOX_REGISTRY_USERNAME={registry.USERNAME}")
    if registry.PASSWORD_FILE.exists():
        print(f"export SLIPWAY_SANDBOX_REGISTRY_PASSWORD={registry.password()}")
    print(f"export SLIPWAY_SANDBOX_CA_CERT={PKI / 'ca.crt'}")
    print(f"export SLIPWAY_SANDBOX_DOCKER_TLS_HOST=tcp://127.0.0.1:{PORTS['docker-tls']}")
    print(f"export SLIPWAY_SANDBOX_DOCKER_CERT_PATH={DOCKER_CERTS}")
    print("# To use the sandbox in this shell: eval \"$(make -s sandbox-env)\"")


def command_load_images(references: list[str]) -> None:
    print(json.dumps({"loaded": images.load(binaries_if_built(), references)}))


def main() -> int:
    parser = argparse.ArgumentParser(description="Start, stop and inspect slipway's sandbox cluster.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build if needed and start (running parts are left alone)")
    down = commands.add_parser("down", help="stop every process and remove the node's network, mounts "
                                            "and cgroups; state is kept for a warm start")
    down.add_argument("--purge", action="store_true", help="also delete the cluster's state")
    restart = commands.add_parser("restart", help="stop one component and start it again")
    restart.add_argument("component", help="a name `status` lists, e.g. kube-apiserver or kubelet")
    commands.add_parser("status", help="show each process and the nodes; non-zero unless all up")
    commands.add_parser("env", help="print export lines for KUBECONFIG, DOCKER_HOST and PATH")
    load = commands.add_parser("load-images", help="copy images from the Docker engine into the node "
                                                   "(only those it lacks); prints {\"loaded\": [...]}")
    load.add_argument("references", nargs="+")
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
        elif args.command == "load-images":
            command_load_images(args.references)
        else:
            command_env()
    except SandboxError as error:
        log(f"error: {error}")
        return 1
    return 0
