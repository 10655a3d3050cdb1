"""Turn a verdict into what the operator reads: the one-line msg and the diagnosis (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from ansible.module_utils.rollout_status import (
    condition,
    event_sort_key,
    event_time,
    events_about,
    labels,
    pod_ready,
    uid,
)

MAX_EVENTS = 20
MAX_PODS = 20
MAX_QUOTE = 300
ELIDED = " ... "
LOGGED_PODS = 2


@dataclass(frozen=True)
class LogRequest:
    pod: str
    container: str
    previous: bool


@dataclass(frozen=True)
class LogTail:
    request: LogRequest
    lines: tuple[str, ...] = ()
    unavailable: str = ""  # why there is no log, e.g. the kubelet refused or the pod never ran


def _one_line(text: str) -> str:
    """The text on one line; a long one keeps its start and its end, where a chain of wrapped
    errors names the root cause ("...: 401 Unauthorized")."""
    flat = " ".join(str(text or "").split())
    if len(flat) <= MAX_QUOTE:
        return flat
    kept = (MAX_QUOTE - len(ELIDED)) // 2
    return flat[:kept] + ELIDED + flat[-kept:]


def _container_for_log(problem) -> str | None:
    if problem.container:
        return problem.container
    statuses = (problem.pod.get("status") or {}).get("containerStatuses") or []
    unready = [s for s in statuses if not s.get("ready")]
    chosen = unready or statuses
    if chosen:
        return chosen[0].get("name")
    containers = (problem.pod.get("spec") or {}).get("containers") or []
    return containers[0].get("name") if containers else None


def log_requests(verdict) -> list[LogRequest]:
    """The container logs worth fetching for a verdict: the first culprits that have a log."""
    requests: list[LogRequest] = []
    for problem in verdict.culprits:
        container = _container_for_log(problem)
        if not problem.wants_log or not container:
            continue
        if any(r.pod == problem.pod_name for r in requests):
            continue
        requests.append(LogRequest(problem.pod_name, container, problem.previous_log))
        if len(requests) == LOGGED_PODS:
            break
    return requests


def quote(verdict, logs: list[LogTail]) -> str:
    """The line that best explains a verdict: what the container said, else the server's words."""
    first = verdict.culprits[0] if verdict.culprits else None
    if first and first.quoted.strip():
        return _one_line(first.quoted)
    if first and first.termination_message.strip():
        return _one_line(first.termination_message.strip().splitlines()[-1])
    if first:
        for tail in logs:
            if tail.request.pod == first.pod_name:
                said = [line for line in tail.lines if line.strip()]
                if said:
                    return _one_line(said[-1])
    if verdict.detail:
        return _one_line(verdict.detail)
    # A crashed container's waiting message is only the kubelet's back-off notice.
    return _one_line(first.message) if first and not first.previous_log else ""


def message(ref: str, verdict, logs: list[LogTail]) -> str:
    said = quote(verdict, logs)
    return f'{ref}: {verdict.headline}: "{said}"' if said else f"{ref}: {verdict.headline}"


def _state(state: dict) -> dict:
    for name in ("waiting", "running", "terminated"):
        if name in (state or {}):
            details = state[name] or {}
            summary = {"state": name}
            for key, out in (("reason", "reason"), ("message", "message"),
                             ("exitCode", "exit_code"), ("startedAt", "started_at"),
                             ("finishedAt", "finished_at")):
                if details.get(key) is not None:
                    summary[out] = _one_line(details[key]) if key == "message" else details[key]
            return summary
    return {"state": "unknown"}


def pod_summary(pod: dict, new_revision: bool, problem) -> dict:
    status = pod.get("status") or {}
    containers = []
    for kind, key in (("init", "initContainerStatuses"), ("app", "containerStatuses")):
        for cs in status.get(key) or []:
            entry = {"name": cs.get("name"), "ready": bool(cs.get("ready")),
                     "restart_count": cs.get("restartCount", 0), **_state(cs.get("state"))}
            if kind == "init":
                entry["init"] = True
            if (cs.get("lastState") or {}).get("terminated"):
                entry["last_state"] = _state(cs["lastState"])
            containers.append(entry)
    scheduled = condition(pod, "PodScheduled") or {}
    summary = {
        "name": pod["metadata"]["name"],
        "revision": "new" if new_revision else "old",
        "phase": status.get("phase"),
        "node": (pod.get("spec") or {}).get("nodeName"),
        "ready": pod_ready(pod),
        "terminating": bool(pod["metadata"].get("deletionTimestamp")),
        "containers": containers,
    }
    if scheduled.get("status") == "False":
        summary["unschedulable"] = _one_line(scheduled.get("message", ""))
    if problem:
        summary["problem"] = problem.reason
    revision_label = labels(pod).get("pod-template-hash") or labels(pod).get("controller-revision-hash")
    if revision_label:
        summary["revision_hash"] = revision_label
    return summary


def relevant_events(events: list, object_uids) -> list[dict]:
    """Events about the rollout's objects, repeats folded into one, newest last."""
    folded: dict[tuple, dict] = {}
    for event in sorted(events_about(events, object_uids), key=event_sort_key):
        involved = event.get("involvedObject") or {}
        key = (involved.get("uid"), event.get("reason"), event.get("message"))
        count = ((event.get("series") or {}).get("count") or event.get("count") or 1)
        previous = folded.pop(key, None)
        when = event_time(event)
        folded[key] = {
            "time": when.isoformat() if when else None,
            "type": event.get("type"),
            "reason": event.get("reason"),
            "object": f"{involved.get('kind', '').lower()}/{involved.get('name')}",
            "message": _one_line(event.get("message", "")),
            "count": count + (previous["count"] if previous else 0),
        }
    return list(folded.values())[-MAX_EVENTS:]


def diagnosis(verdict, events: list, logs: list[LogTail]) -> dict:
    problems = {uid(p.pod): p for p in verdict.problems}
    problems.update({uid(p.pod): p for p in verdict.culprits})
    # New pods first: they decide the rollout; old ones give context.
    pods = [pod_summary(pod, True, problems.get(uid(pod))) for pod in verdict.new_pods]
    pods += [pod_summary(pod, False, None) for pod in verdict.old_pods]
    return {
        "pods": pods[:MAX_PODS],
        "events": relevant_events(events, verdict.related_uids),
        "logs": [
            {"pod": tail.request.pod, "container": tail.request.container,
             "previous": tail.request.previous,
             **({"unavailable": tail.unavailable} if tail.unavailable else {"lines": list(tail.lines)})}
            for tail in logs
        ],
    }
