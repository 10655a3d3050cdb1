# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters reading minikube's machine-readable output: what to do with a profile, which addons to
enable, and the Docker daemon settings of `docker-env`. Pure functions of minikube's text."""

from __future__ import annotations

import json
import re

from ansible.errors import AnsibleFilterError

# What a profile's status asks for when its settings are right.
_ACTION_BY_STATUS = {"running": "none", "paused": "unpause"}
_MEMORY_UNITS = {"": 1, "m": 1, "mb": 1, "mi": 1, "mib": 1, "g": 1024, "gb": 1024, "gi": 1024, "gib": 1024}


def memory_mb(value) -> int:
    """4096, "4096", "4096mb", "4g" -> megabytes, as minikube stores them (Config.Memory)."""
    if isinstance(value, bool):
        raise AnsibleFilterError(f"memory must be a size, got {value!r}")
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _MEMORY_UNITS:
        raise AnsibleFilterError(f"memory must be megabytes or a size such as 4g, got {value!r}")
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]


def _load_json(text: str, what: str):
    try:
        return json.loads(text)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(f"{what} did not print JSON ({error}): {str(text)[:300]!r}") from error


def _profiles(text: str) -> tuple[list, list]:
    """(valid, invalid) profiles of `minikube profile list -o json`; no profiles at all is ([], [])."""
    if not str(text or "").strip():
        return [], []
    listed = _load_json(text, "minikube profile list -o json")
    if isinstance(listed, dict) and ("valid" in listed or "invalid" in listed):
        return listed.get("valid") or [], listed.get("invalid") or []
    # With no profile at all, minikube reports an error (MK_USAGE_NO_PROFILE) instead of a list.
    if "no_profile" in json.dumps(listed).lower() or "no minikube profile" in json.dumps(listed).lower():
        return [], []
    raise AnsibleFilterError(f"unexpected output of minikube profile list -o json: {str(text)[:300]!r}")


def _settings(config: dict) -> dict:
    kubernetes = config.get("KubernetesConfig") or {}
    return {
        "driver": config.get("Driver") or config.get("VMDriver") or "",
        "cpus": config.get("CPUs"),
        "memory": config.get("Memory"),
        "kubernetes_version": kubernetes.get("KubernetesVersion") or "",
        "container_runtime": kubernetes.get("ContainerRuntime") or "",
    }


def _wanted(wanted: dict) -> dict:
    version = str(wanted["kubernetes_version"])
    return {
        "driver": str(wanted["driver"]),
        "cpus": int(wanted["cpus"]),
        "memory": memory_mb(wanted["memory"]),
        "kubernetes_version": version if version.startswith("v") else f"v{version}",
        "container_runtime": str(wanted["container_runtime"]),
    }


def minikube_profile_action(text: str, profile: str, wanted: dict) -> dict:
    """Decide what to do with `profile`, from `minikube profile list -o json`.

    Returns {action, status, differences}: action is `create` (no such profile), `start`
    (stopped or degraded), `unpause`, `none` (running with the wanted settings) or `fail` (a
    setting differs, which only a re-create would change, or minikube marks the profile invalid).
    A profile is never deleted here.
    """
    valid, invalid = _profiles(text)
    if any(item.get("Name") == profile for item in invalid):
        return {"action": "fail", "status": "Invalid", "differences": [
            f"minikube lists profile {profile} as invalid (its configuration cannot be read)"]}
    found = next((item for item in valid if item.get("Name") == profile), None)
    if found is None:
        return {"action": "create", "status": "Absent", "differences": []}
    status = str(found.get("Status") or "Unknown")
    have = _settings(found.get("Config") or {})
    want = _wanted(wanted)
    differences = [
        f"{key}: the profile has {have[key]!r}, the inventory wants {want[key]!r}"
        for key in want
        if have[key] not in (None, "") and have[key] != want[key]
    ]
    if differences:
        return {"action": "fail", "status": status, "differences": differences}
    return {"action": _ACTION_BY_STATUS.get(status.lower(), "start"), "status": status, "differences": []}


def minikube_addons_to_enable(text: str, wanted: list) -> list:
    """The addons of `wanted` that `minikube addons list -o json` shows disabled, in order."""
    listed = _load_json(text, "minikube addons list -o json")
    if not isinstance(listed, dict):
        raise AnsibleFilterError(f"unexpected output of minikube addons list -o json: {str(text)[:300]!r}")
    unknown = [name for name in wanted if name not in listed]
    if unknown:
        raise AnsibleFilterError(f"this minikube has no addon named {', '.join(unknown)}")
    return [
        name for name in dict.fromkeys(wanted)
        if str((listed[name] or {}).get("Status", "")).split()[0:1] != ["enabled"]
    ]


def minikube_docker_env(text: str) -> dict:
    """The Docker daemon settings of `minikube docker-env --shell none` (KEY=value lines) or of
    `minikube docker-env -o json`, without running them through a shell.

    Returns {docker_host, docker_tls_verify, docker_cert_path, variables}; the cert path is empty
    when the daemon does not use TLS.
    """
    stripped = str(text or "").strip()
    if stripped.startswith("{"):
        variables = {str(key): str(value) for key, value in _load_json(stripped, "minikube docker-env").items()}
    else:
        variables = {}
        for line in stripped.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            key, separator, value = line.partition("=")
            if not separator or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise AnsibleFilterError(f"unexpected line in minikube docker-env output: {line!r}")
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            variables[key] = value
    host = variables.get("DOCKER_HOST", "")
    if not host:
        raise AnsibleFilterError("minikube docker-env gave no DOCKER_HOST: is the container runtime docker?")
    tls = variables.get("DOCKER_TLS_VERIFY", "") not in ("", "0", "false", "False")
    return {
        "docker_host": host,
        "docker_tls_verify": tls,
        "docker_cert_path": variables.get("DOCKER_CERT_PATH", "") if tls else "",
        "variables": variables,
    }


def minikube_version(text: str) -> str:
    """`v1.37.0` from `minikube version --short` (or `minikube version: v1.37.0`); empty if none."""
    match = re.search(r"\bv\d+\.\d+\.\d+[0-9A-Za-z.+-]*", str(text or ""))
    return match.group(0) if match else ""


class FilterModule:
    def filters(self):
        return {
            "minikube_profile_action": minikube_profile_action,
            "minikube_addons_to_enable": minikube_addons_to_enable,
            "minikube_docker_env": minikube_docker_env,
            "minikube_version": minikube_version,
        }
