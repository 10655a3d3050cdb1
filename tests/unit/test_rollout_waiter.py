"""The wait loop over a scripted cluster: fake time jumps from one recorded state to the next,
so nothing sleeps and every timing is exact."""

import copy
import datetime
import threading

import pytest
from test_rollout_status import NEW_BACKEND, OLD_BACKEND, add_event, backend, load, set_state
from test_rollout_status import pod as pod_of

from ansible.module_utils.rollout_kube import Forbidden, Unreachable
from ansible.module_utils.rollout_rollback import JSON_PATCH
from ansible.module_utils.rollout_targets import Target, parse_selector_spec
from ansible.module_utils.rollout_waiter import Options, WaitError, Waiter

BASE = datetime.datetime(2025, 5, 6, 10, 0, 0, tzinfo=datetime.timezone.utc)
PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
           "Job": "jobs", "ReplicaSet": "replicasets"}
BACKEND = Target("Deployment", "shop", "backend")


def state(*fixtures: dict) -> dict:
    """One cluster state: the objects of the given fixtures, by resource type."""
    objects: dict = {}
    for fx in fixtures:
        objects.setdefault(PLURALS[fx["kind"]], []).append(fx["workload"])
        for plural in ("pods", "events", "replicasets", "controllerrevisions"):
            objects.setdefault(plural, []).extend(fx[plural])
    return objects


def completed_backend() -> dict:
    fx = backend("running_ready", "running_ready")
    fx["pods"] = [p for p in fx["pods"] if p["metadata"]["name"] in NEW_BACKEND]
    fx["workload"]["status"].update(replicas=2, updatedReplicas=2, readyReplicas=2, availableReplicas=2)
    fx["workload"]["status"]["conditions"][1].update(reason="NewReplicaSetAvailable",
                                                     lastUpdateTime="2025-05-06T10:00:09Z")
    return fx


class FakeInformer:
    def __init__(self, cluster, rtype):
        self._cluster = cluster
        self.rtype = rtype
        self.synced = threading.Event()
        self.synced.set()
        self.fatal = cluster.fatal.get(rtype.plural)
        self.restarts = 0

    def items(self):
        return self._cluster.frames[self._cluster.index][1].get(self.rtype.plural, [])

    def sync(self):
        if self.fatal:
            raise self.fatal

    def start(self):
        pass

    def stop(self):
        pass


class Cluster:
    """Cluster states at given seconds; also the fake API and the clock the waiter reads."""

    host = "https://127.0.0.1:16443"

    def __init__(self, *frames, logs=None, fatal=None, patched_generation=4):
        self.frames = list(frames)
        self.index = 0
        self.now = 0.0
        self.logs = logs or {}
        self.fatal = fatal or {}
        self.patches = []
        self.deleted = []
        self.log_calls = []
        self.patched_generation = patched_generation

    def waiter(self, targets, options, selectors=(), progress=None):
        return Waiter(self, list(targets), list(selectors), options, monotonic=lambda: self.now,
                      utcnow=lambda: BASE + datetime.timedelta(seconds=self.now), idle=self.idle,
                      informer_factory=lambda api, rtype, namespace, on_change: FakeInformer(self, rtype),
                      progress=progress)

    def idle(self, seconds):
        assert seconds < 3600, "the waiter would block without a deadline"
        following = self.index + 1
        if following < len(self.frames) and self.frames[following][0] <= self.now + seconds:
            self.index = following
            self.now = max(self.now, self.frames[following][0])
        else:
            self.now += seconds
        return True

    # the KubeApi surface the waiter uses
    def patch(self, rtype, namespace, name, body, content_type):
        self.patches.append((rtype.plural, namespace, name, body, content_type))
        return {"metadata": {"name": name, "generation": self.patched_generation}}

    def delete(self, rtype, namespace, name):
        self.deleted.append((rtype.plural, namespace, name))

    def log_tail(self, namespace, pod, container, lines, previous):
        self.log_calls.append((pod, container, lines, previous))
        said = self.logs.get(pod)
        if isinstance(said, Exception):
            raise said
        return said or []


def test_returns_the_moment_the_rollout_completes():
    cluster = Cluster((0, state(backend("container_creating", "container_creating"))),
                      (7, state(completed_backend())))
    outcome = cluster.waiter([BACKEND], Options(timeout=300)).wait()
    [result] = outcome.results
    assert result["status"] == "complete"
    assert result["waited_seconds"] == 7.0
    assert result["spec_to_ready_seconds"] == 9.0
    assert result["revision"] == 3
    assert result["message"] == "deployment/backend: successfully rolled out"
    assert "diagnosis" not in result
    assert outcome.changed is False
    assert cluster.log_calls == []


def test_crash_loop_fails_fast_with_the_log_tail():
    cluster = Cluster((0, state(backend("container_creating", "container_creating"))),
                      (12, state(load("deployment_crashloop"))),
                      logs={name: ["starting", "pymongo.errors.ServerSelectionTimeoutError: mongo:27017"]
                            for name in NEW_BACKEND})
    [result] = cluster.waiter([BACKEND], Options(timeout=300, log_lines=5)).wait().results
    assert result["status"] == "failed"
    assert result["waited_seconds"] == 12.0
    assert result["message"] == ('deployment/backend: 2/2 new pods CrashLoopBackOff (exit 1): '
                                 '"pymongo.errors.ServerSelectionTimeoutError: mongo:27017"')
    assert sorted(cluster.log_calls) == sorted((name, "app", 5, True) for name in NEW_BACKEND)
    assert result["diagnosis"]["logs"][0]["lines"][-1].startswith("pymongo")


def test_unreadable_log_is_reported_not_raised():
    cluster = Cluster((0, state(load("deployment_crashloop"))),
                      logs={name: Unreachable("API server answered 502 to get pods/log")
                            for name in NEW_BACKEND})
    [result] = cluster.waiter([BACKEND], Options()).wait().results
    assert result["status"] == "failed"
    assert result["diagnosis"]["logs"][0]["unavailable"] == (
        "log unavailable: API server answered 502 to get pods/log")
    assert result["message"] == "deployment/backend: 2/2 new pods CrashLoopBackOff (exit 1)"


def test_timeout_names_the_failing_readiness_probe():
    fx = backend("running_not_ready", "running_not_ready")
    add_event(fx, NEW_BACKEND[0], "readiness_failed")
    cluster = Cluster((0, state(fx)))
    [result] = cluster.waiter([BACKEND], Options(timeout=30)).wait().results
    assert result["status"] == "timed_out"
    assert result["reason"] == "ReadinessProbeFailed"
    assert result["waited_seconds"] == 30.0
    assert result["message"] == ('deployment/backend: timed out after 30s: 1/2 new pods not ready, '
                                 'readiness probe failing: "Readiness probe failed: HTTP probe failed '
                                 'with statuscode: 503"')


def test_grace_periods_end_without_any_event():
    # Marked unschedulable at 10:00:02: a failure from 10:00:07 on, with nothing changing.
    cluster = Cluster((0, state(backend("unschedulable", "running_ready"))))
    [result] = cluster.waiter([BACKEND], Options(timeout=300)).wait().results
    assert result["reason"] == "Unschedulable"
    assert result["waited_seconds"] == 7.0


def test_missing_target_fails_at_once_without_a_grace():
    [result] = Cluster((0, {})).waiter([BACKEND], Options()).wait().results
    assert result["status"] == "missing"
    assert result["message"] == "deployment/backend not found in namespace shop"


def test_target_created_within_the_grace_is_waited_for():
    cluster = Cluster((0, {}), (4, state(completed_backend())))
    [result] = cluster.waiter([BACKEND], Options(wait_for_creation=10)).wait().results
    assert (result["status"], result["waited_seconds"]) == ("complete", 4.0)


def test_target_not_created_within_the_grace():
    [result] = Cluster((0, {})).waiter([BACKEND], Options(wait_for_creation=5)).wait().results
    assert result["status"] == "missing"
    assert result["waited_seconds"] == 5.0
    assert result["message"].endswith("after waiting 5s for it to be created")


def rolled_back_backend(*states: str) -> dict:
    """The backend after our rollback patch: revision 2's template, generation 4."""
    fx = backend(*states)
    fx["workload"]["metadata"]["generation"] = 4
    fx["workload"]["spec"]["template"] = copy.deepcopy(fx["replicasets"][0]["spec"]["template"])
    del fx["workload"]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
    return fx


def test_rollback_restores_the_previous_revision_and_still_fails():
    done = rolled_back_backend()
    done["workload"]["status"].update(observedGeneration=4, replicas=1, updatedReplicas=1,
                                      availableReplicas=1)
    done["workload"]["spec"]["replicas"] = 1
    done["pods"] = [p for p in done["pods"] if p["metadata"]["name"] not in NEW_BACKEND]
    cluster = Cluster((0, state(load("deployment_crashloop"))), (3, state(done)))
    outcome = cluster.waiter([BACKEND], Options(rollback_on_failure=True)).wait()
    [result] = outcome.results
    assert outcome.changed is True
    [(plural, namespace, name, body, content_type)] = cluster.patches
    assert (plural, namespace, name, content_type) == ("deployments", "shop", "backend", JSON_PATCH)
    assert body[0]["value"]["spec"]["containers"][0]["image"].endswith(":1.3.2")
    assert result["status"] == "failed"
    assert result["reason"] == "CrashLoopBackOff"
    assert result["rollback"]["status"] == "complete"
    assert result["rollback"]["to_revision"] == 2
    assert result["rollback"]["waited_seconds"] == 3.0
    assert result["message"].endswith("; rolled back to revision 2: complete")


def test_rollback_that_fails_too_is_reported():
    broken = rolled_back_backend()
    broken["workload"]["status"]["observedGeneration"] = 4
    # Revision 2's image has gone from the registry meanwhile.
    set_state(broken, OLD_BACKEND, "image_pull_backoff")
    cluster = Cluster((0, state(load("deployment_crashloop"))), (3, state(broken)))
    [result] = cluster.waiter([BACKEND], Options(rollback_on_failure=True)).wait().results
    assert result["rollback"]["status"] == "failed"
    assert result["rollback"]["reason"] == "ImagePullBackOff"
    assert result["message"].endswith("; rolled back to revision 2: failed")


def test_job_failure_is_not_rolled_back():
    cluster = Cluster((0, state(load("job_failed"))))
    outcome = cluster.waiter([Target("Job", "shop", "migrate")], Options(rollback_on_failure=True)).wait()
    [result] = outcome.results
    assert result["rollback"] == {"status": "not_rolled_back",
                                  "message": "a Job has no revisions to roll back to"}
    assert outcome.changed is False
    assert cluster.patches == []


def test_several_targets_are_waited_for_in_parallel():
    sts = load("statefulset_rollout")
    done_sts = load("statefulset_rollout")
    done_sts["workload"]["status"].update(updatedReplicas=3)
    cluster = Cluster((0, state(backend("container_creating", "container_creating"), sts)),
                      (5, state(completed_backend(), sts)),
                      (9, state(completed_backend(), done_sts)))
    targets = [BACKEND, Target("StatefulSet", "shop", "db")]
    results = cluster.waiter(targets, Options()).wait().results
    assert [(r["name"], r["status"], r["waited_seconds"]) for r in results] == [
        ("backend", "complete", 5.0), ("db", "complete", 9.0)]


def labelled(fx: dict, **labels) -> dict:
    fx["workload"]["metadata"]["labels"] = labels
    return fx


def test_selector_waits_for_every_match_including_late_ones():
    sts = labelled(load("statefulset_rollout"), release="shop")
    sts["workload"]["status"].update(updatedReplicas=3)
    other = labelled(load("job_running"), release="other")
    spec = parse_selector_spec("release=shop", None, "shop")
    cluster = Cluster((0, state(labelled(completed_backend(), release="shop"), other)),
                      (2, state(labelled(completed_backend(), release="shop"), other, sts)))
    results = cluster.waiter([], Options(wait_for_creation=0), [spec]).wait().results
    assert [(r["kind"], r["name"], r["status"]) for r in results] == [("Deployment", "backend", "complete")]
    # Within the creation grace the StatefulSet created at 2s joins.
    starting = labelled(backend("container_creating", "container_creating"), release="shop")
    cluster = Cluster((0, state(starting, other)),
                      (2, state(labelled(completed_backend(), release="shop"), other, sts)))
    results = cluster.waiter([], Options(), [spec]).wait().results
    assert [(r["kind"], r["name"], r["status"]) for r in results] == [
        ("Deployment", "backend", "complete"), ("StatefulSet", "db", "complete")]


def test_selector_matching_nothing_is_reported():
    spec = parse_selector_spec({"release": "nope"}, ["deploy"], "shop")
    results = Cluster((0, state(completed_backend()))).waiter([], Options(), [spec]).wait().results
    assert results == [{"selector": "release=nope", "namespace": "shop", "status": "missing",
                        "message": "no Deployment in namespace shop matches the selector release=nope"}]


def test_check_mode_reports_without_waiting():
    fx = load("deployment_crashloop")
    cluster = Cluster((0, state(fx)), (5, state(completed_backend())))
    outcome = cluster.waiter([BACKEND, Target("Deployment", "shop", "gone")], Options()).snapshot()
    assert [(r["name"], r["status"]) for r in outcome.results] == [("backend", "failed"), ("gone", "missing")]
    assert cluster.now == 0.0 and cluster.index == 0
    assert cluster.patches == []


def test_rbac_denial_stops_the_wait_with_its_reason():
    denied = Forbidden('RBAC denied: cannot watch pods in namespace shop: pods is forbidden')
    cluster = Cluster((0, state(completed_backend())), fatal={"pods": denied})
    with pytest.raises(WaitError, match="RBAC denied: cannot watch pods in namespace shop"):
        cluster.waiter([BACKEND], Options()).wait()


def test_events_denied_only_costs_the_diagnosis_its_events():
    cluster = Cluster((0, state(completed_backend())),
                      fatal={"events": Forbidden("RBAC denied: cannot watch events in namespace shop")})
    outcome = cluster.waiter([BACKEND], Options()).wait()
    assert outcome.results[0]["status"] == "complete"
    assert outcome.warnings == ["RBAC denied: cannot watch events in namespace shop; "
                                "events are left out of the diagnosis"]


def failing_db() -> dict:
    fx = load("statefulset_rollout")
    fx["workload"]["status"]["readyReplicas"] = 2
    set_state(fx, "db-2", "crashloop_with_termination_message")
    return fx


def test_statefulset_rollback_replaces_the_pod_that_blocks_it():
    restored = failing_db()
    restored["workload"]["metadata"]["generation"] = 4
    restored["workload"]["status"].update(observedGeneration=4, updateRevision="db-7c9b8d5f4")
    done = load("statefulset_rollout")
    done["workload"]["metadata"]["generation"] = 4
    done["workload"]["status"].update(observedGeneration=4, updateRevision="db-7c9b8d5f4",
                                      currentRevision="db-7c9b8d5f4", updatedReplicas=3)
    pod_of(done, "db-2")["metadata"]["labels"]["controller-revision-hash"] = "db-7c9b8d5f4"
    cluster = Cluster((0, state(failing_db())), (2, state(restored)), (4, state(done)))
    [result] = cluster.waiter([Target("StatefulSet", "shop", "db")],
                              Options(rollback_on_failure=True)).wait().results
    restored_image = cluster.patches[0][3]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert restored_image == "registry.example/db:2.0"
    # Deleted only once the controller had seen the patch, so it comes back at revision 1.
    assert cluster.deleted == [("pods", "shop", "db-2")]
    assert result["rollback"]["status"] == "complete"
    assert result["message"].startswith('statefulset/db: 1/1 new pods CrashLoopBackOff (exit 2): '
                                        '"config error: DATABASE_URL is not set"')


def test_rollback_that_never_shows_up_times_out_on_its_own_limit():
    cluster = Cluster((0, state(failing_db())))
    [result] = cluster.waiter([Target("StatefulSet", "shop", "db")],
                              Options(rollback_on_failure=True, rollback_timeout=20)).wait().results
    assert result["rollback"]["status"] == "timed_out"
    assert result["rollback"]["waited_seconds"] == 20.0
    assert cluster.deleted == []


# --- no progress, and progress reports ---------------------------------------------------------


def test_a_rollout_without_any_change_fails_after_the_no_progress_timeout():
    cluster = Cluster((0, state(backend("running_not_ready", "running_not_ready"))))
    [result] = cluster.waiter([BACKEND], Options(timeout=300, no_progress_timeout=60)).wait().results
    assert result["status"] == "timed_out"
    assert result["reason"] == "NotReady"
    assert result["waited_seconds"] == 60.0
    assert result["message"] == "deployment/backend: no progress for 60s: 2/2 new pods Running but not Ready"


def test_any_change_restarts_the_no_progress_clock():
    stuck = state(backend("running_not_ready", "running_not_ready"))
    moved = state(backend("running_ready", "running_not_ready"))
    cluster = Cluster((0, stuck), (50, moved))
    [result] = cluster.waiter([BACKEND], Options(timeout=300, no_progress_timeout=60)).wait().results
    assert result["status"] == "timed_out"
    assert result["waited_seconds"] == 110.0
    assert result["message"].startswith("deployment/backend: no progress for 60s: 1/2 new pods")


def test_without_a_no_progress_timeout_only_the_timeout_ends_the_wait():
    cluster = Cluster((0, state(backend("running_not_ready", "running_not_ready"))))
    [result] = cluster.waiter([BACKEND], Options(timeout=300)).wait().results
    assert result["waited_seconds"] == 300.0
    assert result["message"].startswith("deployment/backend: timed out after 300s")


def test_progress_is_reported_every_interval_while_waiting():
    reports = []
    fx = backend("running_not_ready", "running_not_ready")
    done = completed_backend()
    cluster = Cluster((0, state(fx)), (12, state(done)))
    waiter = cluster.waiter([BACKEND], Options(timeout=300, progress_every=5),
                            progress=lambda lines: reports.append((cluster.now, lines)))
    [result] = waiter.wait().results
    assert result["status"] == "complete"
    # None at once (a quick rollout prints nothing), then one every 5 s until it completes at 12 s.
    line = "deployment/backend 2/2 updated, 1/2 ready, 2 unavailable"
    assert reports == [(5.0, [line]), (10.0, [line])]


def test_no_progress_reports_without_an_interval():
    reports = []
    cluster = Cluster((0, state(backend("running_not_ready", "running_not_ready"))))
    cluster.waiter([BACKEND], Options(timeout=30), progress=reports.append).wait()
    assert reports == []
