"""Facts about the machine and software a result came from, so figures can be compared only
with figures from a like machine."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def _first(path: str, key: str) -> str:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return line.split(":", 1)[1].strip()
    return ""


def facts(kubernetes_version: str) -> dict[str, Any]:
    """CPU, cores, RAM, kernel, tool versions, date and load average."""
    import ansible.release
    import kubernetes

    mem_kib = int(_first("/proc/meminfo", "MemTotal").split()[0])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "ansible_core": ansible.release.__version__,
        "kubernetes_client": kubernetes.__version__,
        "kubernetes_core": _collection_version("kubernetes", "core"),
        "kubectl": _kubectl_version(),
        "api_server": kubernetes_version,
        "load_average_at_start": os.getloadavg(),
    }


def _kubectl_version() -> str:
    completed = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True, check=False)
    return completed.stdout.strip().splitlines()[0].split(":", 1)[-1].strip() if completed.stdout else ""


def _collection_version(namespace: str, name: str) -> str:
    import ansible_collections

    for root in ansible_collections.__path__:
        manifest = Path(root) / namespace / name / "MANIFEST.json"
        if manifest.exists():
            return json.loads(manifest.read_text())["collection_info"]["version"]
    return "not found"
