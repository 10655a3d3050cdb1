"""Images from the sandbox's Docker engine into the real node's containerd, as `kind load` does.

Nothing can be pulled here, and pods keep `imagePullPolicy: Never`: an image the image phase
built reaches the node only by this copy, so one that was not built gives a real
ErrImageNeverPull. Only tags the node lacks are copied; their names (content tags) are kept.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .layout import CONTAINERD_SOCKET, DOCKER_SOCKET, SandboxError, log

NAMESPACE = "k8s.io"  # the namespace containerd's CRI plugin keeps the kubelet's images in
DOCKER = ["docker", f"--host=unix://{DOCKER_SOCKET}"]


def normalized(reference: str) -> str:
    """An image reference as containerd names it (Docker Hub's implicit host and library/)."""
    name, _, digest = reference.partition("@")
    first = name.split("/", 1)[0]
    has_host = "/" in name and ("." in first or ":" in first or first == "localhost")
    if not has_host:
        name = f"docker.io/{name if '/' in name else 'library/' + name}"
    last = name.rsplit("/", 1)[-1]
    if not digest and ":" not in last:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def ctr(bin_dir: Path, *args: str, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "ctr"), f"--address={CONTAINERD_SOCKET}", f"--namespace={NAMESPACE}",
                           *args], stdin=stdin, capture_output=True, text=stdin is None)


def node_images(bin_dir: Path) -> set[str]:
    listing = ctr(bin_dir, "images", "list", "--quiet")
    if listing.returncode != 0:
        raise SandboxError(f"listing the node's images failed (is the sandbox up?): {listing.stderr.strip()}")
    return set(listing.stdout.split())


def engine_images() -> set[str]:
    listing = subprocess.run([*DOCKER, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
                             capture_output=True, text=True)
    if listing.returncode != 0:
        raise SandboxError(f"listing the Docker engine's images failed: {listing.stderr.strip()}")
    return {normalized(line) for line in listing.stdout.split() if not line.endswith(":<none>")}


def load(bin_dir: Path, references: list[str]) -> list[str]:
    """Copy the images the node lacks; returns the references copied.

    A reference the engine does not have either is left out: its pods fail on the node with
    ErrImageNeverPull, as on a kind node (and kwok's simulated nodes never look).
    """
    present = node_images(bin_dir)
    wanted = {ref for ref in references if normalized(ref) not in present}
    if not wanted:
        return []
    available = engine_images()
    missing = sorted(ref for ref in wanted if normalized(ref) in available)
    if not missing:
        return []
    with subprocess.Popen([*DOCKER, "image", "save", *missing], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as save:
        # --digests keeps the images' content addresses, as `kind load` does.
        imported = ctr(bin_dir, "images", "import", "--digests", "--snapshotter=overlayfs", "-",
                       stdin=save.stdout)
        save_error = save.stderr.read().decode().strip()
    if save.returncode != 0:
        raise SandboxError(f"docker image save {' '.join(missing)} failed: {save_error}")
    if imported.returncode != 0:
        raise SandboxError(f"importing {' '.join(missing)} into the node failed: "
                           f"{imported.stderr.decode().strip()}")
    log(f"loaded into the node: {' '.join(missing)}")
    return missing
