#!/usr/bin/env python3
"""Start, stop and inspect slipway's sandbox cluster.

The sandbox is a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) with one real node (containerd, runc, the kubelet and kube-proxy, in a network
namespace of its own) and simulated kwok nodes beside it for scale and faults, cluster DNS, an
Ingress controller, metrics-server, and a private Docker engine that plays the part of
`minikube docker-env`. Everything listens on 127.0.0.1 or on the sandbox's own bridge and keeps
its state under one folder, so it never touches a system Docker or another cluster. The code is
in the package slipway_sandbox beside this file, a module per layer.

Usage: sandboxctl.py up | down [--purge] | restart COMPONENT | status | env | load-images REF...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from slipway_sandbox.cli import main  # noqa: E402  (the package is found through the path above)

if __name__ == "__main__":
    sys.exit(main())
