"""Wait for several rollouts at once: informers feed a loop that re-decides on every change.

One informer per (resource type, namespace) is shared by all targets in that namespace, so
waiting for ten Deployments costs the same watches as waiting for one. The loop wakes on every
watch event, on a grace period ending, or at the deadline; it never polls.
"""

from __future__ import annotations

import datetime
import math
import threading
import time
from dataclasses import dataclass, field, replace

from ansible.module_utils.rollout_kube import (
    CONTROLLERREVISIONS,
    EVENTS,
    PODS,
    REPLICASETS,
    ApiError,
    Forbidden,
    Informer,
    ResourceType,
)
from ansible.module_utils.rollout_report import (
    LogTail,
    diagnosis,
    log_requests,
    message,
)
from ansible.module_utils.rollout_rollback import RollbackError, plan_rollback
from ansible.module_utils.rollout_status import (
    COMPLETE,
    FAILED,
    NOT_WAITED,
    PROGRESSING,
    TIMED_OUT,
    ObjectIndex,
    Objects,
    Verdict,
    activity,
    at_timeout,
    controller_kind,
    evaluate,
    labels,
    progress_line,
    without_progress,
)
from ansible.module_utils.rollout_targets import KINDS, Target, selector_matches

MISSING = "missing"
# Statuses that fail the task (outside check mode).
FAILING = (FAILED, TIMED_OUT, MISSING)


# The modules' progress options (documented by the `progress` doc fragment); the action plugin
# sets progress_path and prints what the module appends there.
PROGRESS_OPTIONS = {
    "progress": {"type": "bool", "default": True},
    "progress_interval": {"type": "int", "default": 5},
    "progress_path": {"type": "path"},
}


def progress_every(params: dict) -> float:
    """Options.progress_every from the module's progress options: 0 without a file to write."""
    return params["progress_interval"] if params["progress"] and params["progress_path"] else 0


def progress_appender(path: str | None):
    """A Waiter progress callback appending whole lines to `path`, or None without a path."""
    if not path:
        return None

    def append(lines: list[str]) -> None:
        with open(path, "a", encoding="utf-8") as progress:
            progress.write("".join(f"{line}\n" for line in lines))

    return append


class WaitError(Exception):
    """The wait cannot go on at all (credentials, RBAC, unreachable server)."""


@dataclass
class Options:
    timeout: float = 300
    wait_for_creation: float = 0
    restart_threshold: int = 2
    log_lines: int = 20
    rollback_on_failure: bool = False
    rollback_timeout: float | None = None
    # Seconds a rollout may go without any change before it fails as stuck; 0: no limit.
    no_progress_timeout: float = 0
    # Seconds between progress reports (one line per rollout waited on); 0: none.
    progress_every: float = 0


def _collected(lines: list[str]) -> bool:
    """What a kubelet answers for a container whose log it no longer has."""
    return len(lines) == 1 and lines[0].startswith("unable to retrieve container logs for ")


@dataclass
class _Track:
    target: Target
    deadline: float
    phase: str = "rollout"
    result: dict | None = None
    # While a rollback settles: the rollout's failure, reported with the rollback's outcome.
    failure: dict | None = None
    rollback_started: float = 0.0
    to_revision: int | None = None
    stuck_pods: tuple = ()
    min_generation: int = 0
    wake: float | None = None
    # The last change seen (rollout_status.activity) and when; the progress line to report.
    activity: tuple | None = None
    active_at: float = 0.0
    line: str = ""


@dataclass
class Outcome:
    results: list = field(default_factory=list)
    changed: bool = False
    watch_restarts: int = 0
    warnings: list = field(default_factory=list)


def _workload_type(kind: str) -> ResourceType:
    prefix, plural = KINDS[kind]
    return ResourceType(prefix, plural)


def _observed_generation(workload: dict) -> int:
    return (workload.get("status") or {}).get("observedGeneration", 0)


def _seconds(later, earlier) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 3)


class Waiter:
    def __init__(self, api, targets: list, selectors: list, options: Options,
                 monotonic=time.monotonic, utcnow=None, idle=None, informer_factory=Informer,
                 progress=None):
        self._api = api
        self._options = options
        # Called with the progress lines every options.progress_every seconds while waiting.
        self._progress = progress if options.progress_every > 0 else None
        self._next_report: float | None = None
        self._selectors = selectors
        self._monotonic = monotonic
        self._utcnow = utcnow or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self._changed = threading.Event()
        # Blocks until an informer reports a change or the given seconds pass.
        self._idle = idle or self._changed.wait
        self._started = monotonic()
        self._tracks = [_Track(t, self._started + options.timeout) for t in targets]
        self._informers: dict[tuple, Informer] = {}
        self._warnings: list[str] = []
        self._unmatched: list[dict] = []
        # What the informers held when the loop last woke, indexed once for all targets.
        self._indexes: dict[str, ObjectIndex] = {}
        self._named: dict[tuple, dict] = {}
        # Events only enrich the diagnosis: a service account that may not read them can
        # still wait, so a denial there becomes a warning instead of an error.
        self._optional = set()
        for namespace, kinds in self._kinds_by_namespace().items():
            types = [_workload_type(kind) for kind in kinds] + [PODS, EVENTS]
            if "Deployment" in kinds:
                types.append(REPLICASETS)
            if kinds & {"StatefulSet", "DaemonSet"}:
                types.append(CONTROLLERREVISIONS)
            for rtype in dict.fromkeys(types):
                self._informers[(rtype.plural, namespace)] = informer_factory(
                    api, rtype, namespace, self._changed.set)
            self._optional.add((EVENTS.plural, namespace))

    def _kinds_by_namespace(self) -> dict[str, set]:
        wanted: dict[str, set] = {}
        for track in self._tracks:
            wanted.setdefault(track.target.namespace, set()).add(track.target.kind)
        for spec in self._selectors:
            wanted.setdefault(spec.namespace, set()).update(spec.kinds)
        return wanted

    # --- the two entry points ------------------------------------------------------------

    def snapshot(self) -> Outcome:
        """Check mode: list once and report where each rollout stands, without waiting."""
        for key, informer in self._informers.items():
            try:
                informer.sync()
            except ApiError as err:
                self._fail_or_warn(key, err)
        self._expand_selectors(final=True)
        self._forget_indexes()
        outcome = Outcome()
        now = self._utcnow()
        for track in self._tracks:
            workload = self._workload(track.target)
            if workload is None:
                track.result = self._missing(track)
                continue
            verdict = evaluate(track.target.kind, workload, self._related(track.target.namespace, workload),
                               now, self._options.restart_threshold)
            track.result = self._result(track, verdict, self._logs(track, verdict))
        outcome.results = [t.result for t in self._tracks] + self._unmatched
        outcome.warnings = self._warnings
        return outcome

    def wait(self) -> Outcome:
        for informer in self._informers.values():
            informer.start()
        try:
            self._wait_for_sync()
            changed = self._loop()
        finally:
            for informer in self._informers.values():
                informer.stop()
        return Outcome(results=[t.result for t in self._tracks] + self._unmatched,
                       changed=changed,
                       watch_restarts=sum(i.restarts for i in self._informers.values()),
                       warnings=self._warnings)

    # --- plumbing ------------------------------------------------------------------------

    def _fail_or_warn(self, key, err: ApiError) -> None:
        if key in self._optional and isinstance(err, Forbidden):
            self._warnings.append(f"{err}; events are left out of the diagnosis")
            self._informers[key].synced.set()
            self._informers[key].fatal = None
            return
        raise WaitError(str(err)) from err

    def _check_informers(self) -> bool:
        """Raise on an error no retry can fix; True once every informer has listed."""
        for key, informer in self._informers.items():
            if informer.fatal is not None:
                self._fail_or_warn(key, informer.fatal)
        return all(i.synced.is_set() for i in self._informers.values())

    def _wait_for_sync(self) -> None:
        deadline = self._started + self._options.timeout
        while True:
            self._changed.clear()
            if self._check_informers():
                return
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise WaitError(f"timed out after {self._options.timeout:.0f}s listing objects "
                                f"from the API server at {self._api.host}")
            self._idle(remaining)

    def _items(self, plural: str, namespace: str) -> list:
        informer = self._informers.get((plural, namespace))
        return informer.items() if informer else []

    def _objects(self, namespace: str) -> Objects:
        return Objects(pods=self._items("pods", namespace),
                       events=self._items("events", namespace),
                       replicasets=self._items("replicasets", namespace),
                       controllerrevisions=self._items("controllerrevisions", namespace))

    def _forget_indexes(self) -> None:
        self._indexes.clear()
        self._named.clear()

    def _related(self, namespace: str, workload: dict) -> Objects:
        """The objects `workload`'s rollout depends on, from the index of its namespace."""
        if namespace not in self._indexes:
            self._indexes[namespace] = ObjectIndex(self._objects(namespace))
        return self._indexes[namespace].related(workload)

    def _workload(self, target: Target) -> dict | None:
        key = (KINDS[target.kind][1], target.namespace)
        if key not in self._named:
            self._named[key] = {obj["metadata"]["name"]: obj for obj in self._items(*key)}
        return self._named[key].get(target.name)

    def _expand_selectors(self, final: bool) -> bool:
        """Add the workloads selectors match (they join as they appear); True while a selector
        that matches nothing yet is still within the creation grace."""
        unmatched, waiting = [], False
        known = {t.target for t in self._tracks}
        for spec in self._selectors:
            matched = False
            for kind in spec.kinds:
                for obj in self._items(KINDS[kind][1], spec.namespace):
                    # A Deployment's ReplicaSets carry its labels but are waited for through it.
                    if kind == "ReplicaSet" and controller_kind(obj):
                        continue
                    if not selector_matches(spec.requirements, labels(obj)):
                        continue
                    matched = True
                    target = Target(kind, spec.namespace, obj["metadata"]["name"])
                    if target not in known:
                        known.add(target)
                        self._tracks.append(_Track(target, self._started + self._options.timeout))
            grace_over = self._monotonic() >= self._started + self._options.wait_for_creation
            if not matched and not (final or grace_over):
                waiting = True
            elif not matched:
                unmatched.append({
                    "selector": spec.text, "namespace": spec.namespace, "status": MISSING,
                    "message": f"no {', '.join(spec.kinds)} in namespace {spec.namespace} "
                               f"matches the selector {spec.text}"})
        self._unmatched = unmatched
        return waiting

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> bool:
        changed = False
        while True:
            self._changed.clear()
            self._check_informers()
            self._forget_indexes()
            selector_grace = self._expand_selectors(final=False)
            now, utcnow = self._monotonic(), self._utcnow()
            for track in [t for t in self._tracks if t.result is None]:
                changed |= self._step(track, now, utcnow)
            active = [t for t in self._tracks if t.result is None]
            if not active and not selector_grace:
                return changed
            wakes = [t.wake for t in active if t.wake is not None] + [t.deadline for t in active]
            if self._progress is not None and active:
                wakes.append(self._report(active, now))
            if selector_grace:
                wakes.append(self._started + self._options.wait_for_creation)
            self._idle(max(0.0, min(wakes) - self._monotonic()))

    def _report(self, active: list, now: float) -> float:
        """Report the progress lines when one is due (the first after one interval, so a quick
        rollout prints nothing); the time the next one is due."""
        if self._next_report is None:
            self._next_report = self._started + self._options.progress_every
        if now >= self._next_report:
            self._progress([f"{t.target.ref} {t.line}".rstrip() for t in active])
            self._next_report = now + self._options.progress_every
        return self._next_report

    def _stalled(self, track: _Track, workload: dict, verdict: Verdict, now: float) -> bool:
        """Note what changed; True when nothing has for options.no_progress_timeout seconds."""
        limit = self._options.no_progress_timeout
        if not limit:
            return False
        seen = activity(track.target.kind, workload, verdict)
        if seen != track.activity:
            track.activity, track.active_at = seen, now
        if now - track.active_at >= limit:
            return True
        track.wake = min(track.wake or math.inf, track.active_at + limit)
        return False

    def _step(self, track: _Track, now: float, utcnow: datetime.datetime) -> bool:
        """Re-decide one target; True when it rolled something back."""
        track.wake = None
        target = track.target
        workload = self._workload(target)
        if workload is None:
            grace_end = self._started + self._options.wait_for_creation
            if track.phase == "rollout" and now < grace_end and now < track.deadline:
                track.wake = grace_end
            else:
                track.result = self._missing(track)
            return False
        objects = self._related(target.namespace, workload)
        if track.stuck_pods and _observed_generation(workload) >= track.min_generation:
            self._delete_stuck_pods(track)
        if workload["metadata"].get("generation", 0) < track.min_generation:
            # Deciding on the object from before our own rollback patch would be deciding on
            # the revision that already failed.
            verdict = Verdict(PROGRESSING, headline="waiting to see the rollback patch applied")
        else:
            verdict = evaluate(target.kind, workload, objects, utcnow,
                               self._options.restart_threshold)
        if self._progress is not None:
            track.line = progress_line(target.kind, workload)
        if verdict.state == PROGRESSING and now >= track.deadline:
            started = track.rollback_started if track.phase == "rollback" else self._started
            verdict = at_timeout(verdict, objects, now - started)
        if verdict.state == PROGRESSING:
            if verdict.recheck_at is not None:
                track.wake = now + max(0.0, (verdict.recheck_at - utcnow).total_seconds())
            if not self._stalled(track, workload, verdict, now):
                return False
            verdict = without_progress(verdict, objects, now - track.active_at)
        result = self._result(track, verdict, self._logs(track, verdict))
        if track.phase == "rollback":
            track.failure["rollback"] = {key: result[key] for key in (
                "status", "reason", "message", "revision", "waited_seconds", "diagnosis")
                if key in result}
            track.failure["rollback"]["to_revision"] = track.to_revision
            track.failure["message"] += (f"; rolled back to revision "
                                         f"{track.failure['rollback']['to_revision']}: "
                                         f"{result['status']}")
            track.result = track.failure
            return False
        if verdict.state in (FAILED, TIMED_OUT) and self._options.rollback_on_failure:
            return self._roll_back(track, workload, objects, verdict.new_pods, result, now)
        track.result = result
        return False

    def _roll_back(self, track: _Track, workload: dict, objects: Objects, failed_pods: list,
                   failure: dict, now: float) -> bool:
        target = track.target
        try:
            plan = plan_rollback(target.kind, workload, objects.replicasets,
                                 objects.controllerrevisions, failed_pods)
            patched = self._api.patch(_workload_type(target.kind), target.namespace,
                                      target.name, plan.patch, plan.content_type)
        except (RollbackError, ApiError) as err:
            failure["rollback"] = {"status": "not_rolled_back", "message": str(err)}
            failure["message"] += f"; not rolled back: {err}"
            track.result = failure
            return False
        track.to_revision = plan.to_revision
        track.stuck_pods = plan.stuck_pods
        track.failure = failure
        track.phase = "rollback"
        track.rollback_started = now
        track.activity = None
        track.min_generation = patched["metadata"].get("generation", 0)
        track.deadline = now + (self._options.rollback_timeout or self._options.timeout)
        self._changed.set()
        return True

    def _delete_stuck_pods(self, track: _Track) -> None:
        """Only now: deleted earlier, the controller would recreate them at the failed revision."""
        pods, track.stuck_pods = track.stuck_pods, ()
        for name in pods:
            try:
                self._api.delete(PODS, track.target.namespace, name)
            except ApiError as err:
                self._warnings.append(f"{track.target.ref}: could not delete pod {name} of the "
                                      f"failed revision, the rollback may not finish: {err}")

    # --- results -------------------------------------------------------------------------

    def _logs(self, track: _Track, verdict) -> list[LogTail]:
        if verdict.state in (COMPLETE, NOT_WAITED) or not self._options.log_lines:
            return []
        tails = []
        for request in log_requests(verdict):
            try:
                lines = self._api.log_tail(track.target.namespace, request.pod, request.container,
                                           self._options.log_lines, request.previous)
                if request.previous and _collected(lines):
                    # The kubelet has collected the previous container: the current one's log.
                    request = replace(request, previous=False)
                    lines = self._api.log_tail(track.target.namespace, request.pod, request.container,
                                               self._options.log_lines, False)
                tails.append(LogTail(request, lines=tuple(lines)))
            except ApiError as err:
                tails.append(LogTail(request, unavailable=f"log unavailable: {err}"))
        return tails

    def _base(self, track: _Track) -> dict:
        target = track.target
        return {"kind": target.kind, "name": target.name, "namespace": target.namespace}

    def _missing(self, track: _Track) -> dict:
        target = track.target
        grace = (f" after waiting {self._options.wait_for_creation:.0f}s for it to be created"
                 if self._options.wait_for_creation else "")
        return {**self._base(track), "status": MISSING, "reason": "NotFound",
                "message": f"{target.ref} not found in namespace {target.namespace}{grace}",
                "waited_seconds": round(self._monotonic() - self._started, 3)}

    def _result(self, track: _Track, verdict, logs: list[LogTail]) -> dict:
        started = track.rollback_started if track.phase == "rollback" else self._started
        result = {
            **self._base(track),
            "status": verdict.state,
            "reason": verdict.reason,
            "message": message(track.target.ref, verdict, logs),
            "revision": verdict.revision,
            "waited_seconds": round(self._monotonic() - started, 3),
            "spec_to_ready_seconds": (_seconds(verdict.ready_at, verdict.spec_changed_at)
                                      if verdict.state == COMPLETE else None),
        }
        if verdict.state not in (COMPLETE, NOT_WAITED):
            result["diagnosis"] = diagnosis(verdict, self._objects(track.target.namespace).events,
                                            logs)
        return result
