"""Pods on the sandbox's real node for tests: an image it has, and restricted pod specs.

The image is the demo app's Python base (sandbox/make-image.sh), made on the sandbox's Docker
engine and copied into the node once per test session, under a lock: test workers run in
parallel.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from typing import Any

from playbook import REPO

SANDBOXCTL = os.path.join(REPO, "sandbox", "sandboxctl.py")
REAL_NODE = {"type": "real"}
# Processes like a shell as PID 1 ignore SIGTERM: without this a delete waits 30 s.
QUICK_EXIT = 1


def node_image() -> str:
    """The Python base image, made if needed and present on the real node."""
    lock_path = os.path.join(os.environ.get("SLIPWAY_CACHE", os.path.expanduser("~/.cache/slipway")),
                             "test-node-image.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = subprocess.run([os.path.join(REPO, "sandbox", "make-image.sh"), "python-base"],
                              capture_output=True, text=True, check=True)
        image = made.stdout.strip().splitlines()[-1]
        subprocess.run([sys.executable, SANDBOXCTL, "load-images", image], capture_output=True, text=True,
                       check=True)
    return image


def restricted_pod(name: str, image: str, command: list[str], **container: Any) -> dict:
    """A pod the restricted Pod Security level admits, on the real node."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeSelector": REAL_NODE,
            "terminationGracePeriodSeconds": QUICK_EXIT,
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "main", "image": image, "imagePullPolicy": "Never", "command": command,
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                **container,
            }],
        },
    }
