# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of the runbooks: the one-off Job made from a component, the diagnosis
report's views of pods and events, and survey answers read as lists."""

from __future__ import annotations

import copy
from typing import Any

from ansible.errors import AnsibleFilterError

# Probes judge a server; a one-off command is judged by its exit status.
_SERVER_ONLY_FIELDS = ("livenessProbe", "readinessProbe", "startupProbe", "ports", "args", "lifecycle")


def job_from_pod_template(template: dict[str, Any], name: str, command: list[str],
                          labels: dict[str, str], ttl_seconds: int, deadline_seconds: int,
                          annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A Job running `command` in the first container of a workload's pod template.

    The pod keeps what the command needs from the component (image, environment, volumes,
    security context, resources) but none of its labels: a Service selecting the component
    must not route traffic to it, and its ReplicaSet must not count it. It runs once
    (backoffLimit 0: a migration or a seed must not run twice by surprise).
    """
    if not isinstance(command, list) or not command or not all(isinstance(part, str) for part in command):
        raise AnsibleFilterError(f"the command must be a non-empty list of strings, got {command!r}")
    spec = copy.deepcopy((template or {}).get("spec") or {})
    containers = spec.get("containers") or []
    if not containers:
        raise AnsibleFilterError("the pod template has no container to take the image from")
    container = containers[0]
    for field in _SERVER_ONLY_FIELDS:
        container.pop(field, None)
    container["command"] = list(command)
    spec["containers"] = [container]
    spec["restartPolicy"] = "Never"
    pod_labels = {**labels, "app.kubernetes.io/name": name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": pod_labels},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": int(ttl_seconds),
            "activeDeadlineSeconds": int(deadline_seconds),
            "template": {
                "metadata": {"labels": pod_labels, **({"annotations": annotations} if annotations else {})},
                "spec": spec,
            },
        },
    }


def _container_state(status: dict[str, Any]) -> str:
    state = status.get("state") or {}
    if "waiting" in state:
        return state["waiting"].get("reason") or "Waiting"
    if "terminated" in state:
        terminated = state["terminated"]
        return f"{terminated.get('reason') or 'Terminated'} (exit {terminated.get('exitCode')})"
    return "Running" + ("" if status.get("ready") else ", not ready")


def pod_report(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each pod's phase, node, and per container its state, readiness and restarts; pods with
    trouble (not ready, restarted, waiting or failed) first. Nothing of the spec: no
    environment values can leak into a report."""
    rows = []
    for pod in pods or []:
        status = pod.get("status") or {}
        containers = [{
            "name": c.get("name"),
            "state": _container_state(c),
            "ready": bool(c.get("ready")),
            "restarts": int(c.get("restartCount") or 0),
            **({"last_state": _container_state({"state": c["lastState"], "ready": False})}
               if (c.get("lastState") or {}).get("terminated") else {}),
        } for c in status.get("containerStatuses") or []]
        succeeded = status.get("phase") == "Succeeded"
        troubled = not succeeded and (
            status.get("phase") in ("Pending", "Failed", "Unknown")
            or any(not c["ready"] or c["restarts"] for c in containers))
        rows.append({
            "name": pod["metadata"]["name"],
            "phase": status.get("phase"),
            "node": (pod.get("spec") or {}).get("nodeName"),
            "troubled": troubled,
            "restarts": sum(c["restarts"] for c in containers),
            "containers": containers,
        })
    return sorted(rows, key=lambda row: (not row["troubled"], row["name"]))


def _event_time(event: dict[str, Any]) -> str:
    return (event.get("lastTimestamp") or event.get("eventTime")
            or (event.get("series") or {}).get("lastObservedTime")
            or event["metadata"].get("creationTimestamp") or "")


def event_lines(events: list[dict[str, Any]]) -> list[str]:
    """Events as `kubectl get events --sort-by` shows them, oldest first, one line each:
    time, type, reason, object, count and message."""
    lines = []
    # Old-style events are stamped to the second, new-style ones to the microsecond.
    for event in sorted(events or [], key=lambda e: _event_time(e)[:19]):
        involved = event.get("involvedObject") or event.get("regarding") or {}
        count = event.get("count") or (event.get("series") or {}).get("count") or 1
        message = " ".join((event.get("message") or event.get("note") or "").split())
        lines.append(f"{_event_time(event)} {event.get('type', 'Normal')} {event.get('reason', '')} "
                     f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
                     f"{f' (x{count})' if count > 1 else ''}: {message}")
    return lines


def survey_list(value: Any, variable: str) -> list[str]:
    """A list of names however a job gives it: a list (YAML, JSON, AWX's multiple-select survey
    answer), or one string (a multiple-choice or text answer; AWX's older multiple-select answers
    and text fields join several with newlines, people with commas)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [name.strip() for line in value.splitlines() for name in line.split(",") if name.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value):
        return [name.strip() for name in value if name.strip()]
    raise AnsibleFilterError(f"{variable} must be a list of names or a string of them, got {value!r}")


class FilterModule:
    def filters(self):
        return {
            "job_from_pod_template": job_from_pod_template,
            "pod_report": pod_report,
            "event_lines": event_lines,
            "survey_list": survey_list,
        }
