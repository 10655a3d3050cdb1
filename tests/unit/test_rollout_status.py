"""Decisions of rollout_wait over recorded API objects: completion rules and failure reasons."""

import copy
import datetime
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.rollout_report import LogRequest, LogTail, log_requests, message
from ansible.module_utils.rollout_status import (
    COMPLETE,
    FAILED,
    NOT_WAITED,
    PROGRESSING,
    TIMED_OUT,
    ObjectIndex,
    Objects,
    at_timeout,
    evaluate,
    parse_time,
    probe_grace,
)

FIXTURES = Path(__file__).parent / "fixtures" / "rollout"
NOW = datetime.datetime(2025, 5, 6, 10, 5, tzinfo=datetime.timezone.utc)
POD_STATES = yaml.safe_load((FIXTURES / "pod_states.yml").read_text())


def load(name: str) -> dict:
    fixture = yaml.safe_load((FIXTURES / f"{name}.yml").read_text())
    for key in ("pods", "events", "replicasets", "controllerrevisions"):
        fixture.setdefault(key, [])
    return fixture


def objects(fx: dict) -> Objects:
    return Objects(pods=fx["pods"], events=fx["events"], replicasets=fx["replicasets"],
                   controllerrevisions=fx["controllerrevisions"])


def decide(fx: dict, now=NOW, restart_threshold=2):
    return evaluate(fx["kind"], fx["workload"], objects(fx), now, restart_threshold)


def pod(fx: dict, name: str) -> dict:
    return next(p for p in fx["pods"] if p["metadata"]["name"] == name)


def set_state(fx: dict, name: str, state: str) -> None:
    pod(fx, name)["status"] = copy.deepcopy(POD_STATES["statuses"][state])


def add_event(fx: dict, name: str, event: str, **changes) -> dict:
    target = pod(fx, name)
    ev = copy.deepcopy(POD_STATES["events"][event])
    ev["involvedObject"] = {"kind": "Pod", "name": name, "namespace": target["metadata"]["namespace"],
                            "uid": target["metadata"]["uid"], "apiVersion": "v1"}
    ev.update(changes)
    fx["events"].append(ev)
    return ev


def workload_event(fx: dict, reason: str, message: str, when: str) -> None:
    meta = fx["workload"]["metadata"]
    fx["events"].append({
        "metadata": {"name": f"{meta['name']}.{when}", "namespace": meta["namespace"]},
        "involvedObject": {"kind": fx["kind"], "name": meta["name"], "uid": meta["uid"]},
        "reason": reason, "message": message, "type": "Warning", "count": 1,
        "firstTimestamp": when, "lastTimestamp": when})


NEW_BACKEND = ("backend-7d4b9c8f6-2kq9z", "backend-7d4b9c8f6-8vfpn")
OLD_BACKEND = "backend-6c5d8f7b9-qx7lm"


def backend(*states: str) -> dict:
    """The backend Deployment mid-rollout with its two new pods in the given states."""
    fx = load("deployment_crashloop")
    for name, state in zip(NEW_BACKEND, states):
        set_state(fx, name, state)
    return fx


# --- Deployment: kubectl rollout status rules -------------------------------------------------


def test_deployment_new_replicaset_is_found_by_template():
    verdict = decide(backend("running_ready", "container_creating"))
    assert verdict.revision == 3
    assert sorted(p["metadata"]["name"] for p in verdict.new_pods) == sorted(NEW_BACKEND)
    assert [p["metadata"]["name"] for p in verdict.old_pods] == [OLD_BACKEND]


def test_deployment_waits_until_the_controller_observed_the_spec():
    fx = backend("crashloop_with_termination_message", "crashloop_with_termination_message")
    fx["workload"]["metadata"]["generation"] = 4
    verdict = decide(fx)
    # Without the new generation observed the new revision is unknown: no pod can fail it.
    assert verdict.state == PROGRESSING
    assert "observe" in verdict.headline
    assert verdict.new_pods == []


@pytest.mark.parametrize("status, expected", [
    ({"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2}, "1 of 2 new replicas updated"),
    ({"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}, "1 old replicas pending termination"),
    ({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}, "1 of 2 updated replicas available"),
])
def test_deployment_progress_rules(status, expected):
    fx = backend("running_ready", "running_ready")
    fx["workload"]["status"].update(status)
    verdict = decide(fx)
    assert verdict.state == PROGRESSING
    assert verdict.headline == expected


def test_deployment_complete_with_timings():
    fx = backend("running_ready", "running_ready")
    fx["workload"]["status"].update(replicas=2, updatedReplicas=2, availableReplicas=2)
    fx["workload"]["status"]["conditions"][1].update(
        reason="NewReplicaSetAvailable", lastUpdateTime="2025-05-06T10:00:12Z")
    verdict = decide(fx)
    assert verdict.state == COMPLETE
    # The status subresource write at 10:01:10 is the controller's, not a spec change.
    assert verdict.spec_changed_at == parse_time("2025-05-06T10:00:00Z")
    assert verdict.ready_at == parse_time("2025-05-06T10:00:12Z")


def test_deployment_progress_deadline_exceeded_names_the_stall():
    fx = backend("running_not_ready", "running_not_ready")
    for name in NEW_BACKEND:
        add_event(fx, name, "readiness_failed")
    fx["workload"]["status"]["conditions"][1].update(
        status="False", reason="ProgressDeadlineExceeded",
        message='ReplicaSet "backend-7d4b9c8f6" has timed out progressing.')
    verdict = decide(fx)
    assert verdict.state == FAILED
    assert verdict.reason == "ProgressDeadlineExceeded"
    assert verdict.headline == ("ProgressDeadlineExceeded (2/2 new pods not ready, "
                                "readiness probe failing)")
    assert verdict.detail == "Readiness probe failed: HTTP probe failed with statuscode: 503"


def test_deployment_paused_is_not_waited_for():
    fx = backend("running_ready", "container_creating")
    fx["workload"]["spec"]["paused"] = True
    verdict = decide(fx)
    assert verdict.state == NOT_WAITED
    assert verdict.reason == "Paused"


def test_deployment_pod_security_denial_fails_with_failed_create():
    verdict = decide(load("deployment_failedcreate"))
    assert verdict.state == FAILED
    assert verdict.reason == "FailedCreate"
    assert verdict.headline == "ReplicaSet web-84c6d9f5b8 FailedCreate"
    assert 'violates PodSecurity "restricted:latest"' in verdict.detail
    assert verdict.revision == 2


def test_deployment_replicaset_create_error_fails():
    fx = backend("running_ready", "running_ready")
    fx["workload"]["status"]["conditions"][1].update(
        status="False", reason="ReplicaSetCreateError",
        message='Failed to create new replica set "backend-7d4b9c8f6": exceeded quota')
    verdict = decide(fx)
    assert (verdict.state, verdict.reason) == (FAILED, "ReplicaSetCreateError")


# --- Deployment: pods of the new revision -------------------------------------------------------


def test_crash_loop_of_new_pods_fails_fast():
    verdict = decide(load("deployment_crashloop"))
    assert verdict.state == FAILED
    assert verdict.reason == "CrashLoopBackOff"
    assert verdict.headline == "2/2 new pods CrashLoopBackOff (exit 1)"
    assert {c.pod_name for c in verdict.culprits} == set(NEW_BACKEND)
    assert all(c.previous_log and c.wants_log for c in verdict.culprits)


@pytest.mark.parametrize("threshold, state", [(3, FAILED), (4, PROGRESSING)])
def test_crash_loop_fails_from_the_restart_threshold_on(threshold, state):
    verdict = decide(load("deployment_crashloop"), restart_threshold=threshold)  # 3 restarts
    assert verdict.state == state
    assert [p.fatal for p in verdict.problems] == [state == FAILED] * 2


def test_first_crash_is_not_a_failure():
    verdict = decide(backend("first_crash", "first_crash"))
    assert verdict.state == PROGRESSING


def test_one_restart_then_ready_is_not_a_failure():
    verdict = decide(backend("one_restart_then_ready", "container_creating"))
    assert verdict.state == PROGRESSING
    assert verdict.problems == []


# Waiting in CrashLoopBackOff as kwok shows it, and terminated between restarts as a kubelet does.
@pytest.mark.parametrize("state", ["crashloop_with_termination_message", "kubelet_crashloop_terminated"])
def test_old_revision_pods_crashing_during_the_rollout_is_not_a_failure(state: str):
    fx = backend("container_creating", "container_creating")
    set_state(fx, OLD_BACKEND, state)
    verdict = decide(fx)
    assert verdict.state == PROGRESSING
    assert verdict.problems == []


def test_terminating_new_pod_is_ignored():
    fx = load("deployment_crashloop")
    for name in NEW_BACKEND:
        pod(fx, name)["metadata"]["deletionTimestamp"] = "2025-05-06T10:04:00Z"
    assert decide(fx).state == PROGRESSING


@pytest.mark.parametrize("state, reason", [
    ("image_pull_backoff", "ImagePullBackOff"),
    ("err_image_pull", "ErrImagePull"),
    ("err_image_never_pull", "ErrImageNeverPull"),
    ("invalid_image_name", "InvalidImageName"),
    ("create_container_config_error", "CreateContainerConfigError"),
])
def test_image_and_config_errors_fail_at_once(state, reason):
    verdict = decide(backend(state, state))
    assert verdict.state == FAILED
    assert verdict.reason == reason
    assert verdict.headline == f"2/2 new pods {reason}"


def test_image_pull_failure_quotes_the_registry_answer():
    fx = backend("image_pull_backoff", "image_pull_backoff")
    add_event(fx, NEW_BACKEND[0], "image_pull_backoff")
    add_event(fx, NEW_BACKEND[0], "image_pull_failed")
    verdict = decide(fx)
    first = next(c for c in verdict.culprits if c.pod_name == NEW_BACKEND[0])
    assert first.message.startswith('Failed to pull image "registry.example/shop/backend:1.4.0"')
    assert not first.wants_log


def test_missing_config_key_is_named():
    verdict = decide(backend("create_container_config_error", "container_creating"))
    assert verdict.headline == "1/2 new pods CreateContainerConfigError"
    assert verdict.culprits[0].message == "couldn't find key DB_URL in ConfigMap shop/backend-config"


def test_oom_killed_fails_even_on_the_first_restart():
    verdict = decide(backend("oom_killed_backoff", "running_ready"))
    assert verdict.state == FAILED
    assert verdict.headline == "1/2 new pods OOMKilled (exit 137)"


def test_oom_killed_without_restart_policy_fails():
    verdict = decide(backend("oom_killed_terminated", "running_ready"))
    assert (verdict.state, verdict.reason) == (FAILED, "OOMKilled")
    assert verdict.culprits[0].previous_log is False


def test_the_most_widespread_reason_leads():
    fx = backend("image_pull_backoff", "crashloop_with_termination_message")
    verdict = decide(fx)
    # One pod each: the reason that blocks before a container runs comes first.
    assert verdict.headline == "1/2 new pods ImagePullBackOff"
    assert [c.reason for c in verdict.culprits] == ["ImagePullBackOff", "CrashLoopBackOff"]


def test_multi_container_pods_name_the_container():
    fx = load("deployment_crashloop")
    for name in NEW_BACKEND:
        statuses = pod(fx, name)["status"]["containerStatuses"]
        statuses.insert(0, {"name": "sidecar", "ready": True, "restartCount": 0,
                            "state": {"running": {}}})
    assert decide(fx).headline == "2/2 new pods CrashLoopBackOff (container app, exit 1)"


# --- Crash loops as a real kubelet shows them -------------------------------------------------
# kwok shows a crash-looping container waiting in CrashLoopBackOff all the time; a real 1.36
# kubelet only for ~100 ms before each restart, and otherwise terminated (between restarts) or
# running again (after one), with the failed run in lastState.

WEB_NEW = "web-5f9c7b6d48-x2x7p"


def restarted_backend(*states: str) -> dict:
    """backend() without the BackOff event recorded with its crash loop: whether the kubelet held
    a restart back is up to the test."""
    fx = backend(*states)
    fx["events"] = [ev for ev in fx["events"] if ev["reason"] != "BackOff"]
    return fx


def test_real_kubelet_crash_loop_between_restarts_fails_fast():
    verdict = decide(load("deployment_kubelet_crashloop"))
    assert verdict.state == FAILED
    assert verdict.reason == "CrashLoopBackOff"
    assert verdict.headline == "1/1 new pods CrashLoopBackOff (exit 1)"
    [culprit] = verdict.culprits
    assert (culprit.pod_name, culprit.container, culprit.restarts) == (WEB_NEW, "web", 3)
    assert culprit.wants_log


def test_real_kubelet_crash_loop_message_ends_with_the_crash_log():
    verdict = decide(load("deployment_kubelet_crashloop"))
    # Dead between restarts, yet --previous: the kubelet may start it again before the fetch.
    assert log_requests(verdict) == [LogRequest(WEB_NEW, "web", True)]
    crash = "FATAL: could not read /etc/web/config.yaml: no such file or directory"
    logs = [LogTail(LogRequest(WEB_NEW, "web", True), lines=("starting web 2.1.0", crash))]
    assert message("deployment/web", verdict, logs) == (
        f'deployment/web: 1/1 new pods CrashLoopBackOff (exit 1): "{crash}"')


CRASH_LOOP_SAMPLES = ("kubelet_crashloop_terminated", "kubelet_crashloop_waiting",
                      "kubelet_crashloop_running")


@pytest.mark.parametrize("sample", CRASH_LOOP_SAMPLES)
@pytest.mark.parametrize("threshold, state", [(2, FAILED), (3, FAILED), (4, PROGRESSING)])
def test_a_crash_loop_has_one_verdict_whenever_it_is_sampled(sample, threshold, state):
    fx = backend(sample, sample)  # 4 failed runs in each sample (see pod_states.yml)
    if sample == "kubelet_crashloop_running":
        for name in NEW_BACKEND:
            add_event(fx, name, "restart_backoff")
    verdict = decide(fx, restart_threshold=threshold)
    assert verdict.state == state
    assert [(p.reason, p.exit_code, p.fatal) for p in verdict.problems] == [
        ("CrashLoopBackOff", 1, state == FAILED)] * 2
    if state == FAILED:
        assert verdict.headline == "2/2 new pods CrashLoopBackOff (exit 1)"


# Even while terminated: by the fetch the kubelet may have started the container again.
@pytest.mark.parametrize("sample", ["kubelet_crashloop_terminated", "kubelet_crashloop_waiting",
                                    "kubelet_crashloop_running"])
def test_the_log_asked_for_is_that_of_a_run_that_failed(sample):
    verdict = decide(backend(sample, sample))
    assert log_requests(verdict) == [LogRequest(name, "app", True) for name in NEW_BACKEND]


def test_waiting_to_be_started_again_counts_the_run_that_ended():
    fx = restarted_backend("kubelet_crashloop_running", "kubelet_crashloop_running")
    for name in NEW_BACKEND:  # 4 failed runs, its 5th failed to start
        status = pod(fx, name)["status"]["containerStatuses"][0]
        status.update(restartCount=3, started=False,
                      state={"waiting": {"reason": "RunContainerError", "message": "context deadline exceeded"}})
    assert decide(fx, restart_threshold=3).state == FAILED
    assert decide(fx, restart_threshold=4).state == PROGRESSING


def test_running_again_after_back_offs_is_a_crash_loop_without_events_too():
    # Events are optional (RBAC may deny them); 4 restarts say the kubelet backed off.
    verdict = decide(restarted_backend("kubelet_crashloop_running", "kubelet_crashloop_running"))
    assert verdict.headline == "2/2 new pods CrashLoopBackOff (exit 1)"


def test_running_again_after_oom_with_a_back_off_event_fails():
    fx = restarted_backend("kubelet_restarted_after_oom", "running_ready")
    add_event(fx, NEW_BACKEND[0], "restart_backoff", count=2,
              firstTimestamp="2025-05-06T10:00:08Z", lastTimestamp="2025-05-06T10:00:17Z")
    verdict = decide(fx)
    assert verdict.state == FAILED
    assert verdict.reason == "OOMKilled"
    assert verdict.headline == "1/2 new pods OOMKilled (exit 137)"
    # Running again: the killed run is the previous container.
    assert log_requests(verdict) == [LogRequest(NEW_BACKEND[0], "app", True)]


def test_one_oom_kill_and_a_restart_at_once_is_not_yet_a_failure():
    # Killed again, it is terminated OOMKilled, which fails at once.
    verdict = decide(restarted_backend("kubelet_restarted_after_oom", "running_ready"))
    assert verdict.state == PROGRESSING
    assert verdict.problems == []


@pytest.mark.parametrize("state", ["kubelet_restarted_not_ready", "kubelet_one_restart_then_ready"])
def test_real_kubelet_single_restart_is_not_a_failure(state):
    verdict = decide(restarted_backend(state, state))
    assert verdict.state == PROGRESSING
    assert verdict.problems == []


def test_real_kubelet_single_restart_then_ready_completes():
    fx = backend("kubelet_one_restart_then_ready", "kubelet_one_restart_then_ready")
    fx["workload"]["status"].update(replicas=2, updatedReplicas=2, availableReplicas=2)
    assert decide(fx).state == COMPLETE


def test_a_rollout_is_not_done_while_a_new_pod_has_just_come_back_from_a_crash():
    # The controller counts both new pods available; one crashed at 10:00:13, runs since 10:00:14.
    fx = backend("kubelet_one_restart_then_ready", "running_ready")
    fx["workload"]["status"].update(replicas=2, updatedReplicas=2, availableReplicas=2)
    soon = decide(fx, now=parse_time("2025-05-06T10:00:18Z"))
    assert soon.state == PROGRESSING
    assert soon.headline == "new pods came back after crashing; waiting for them to stay up"
    assert soon.recheck_at == parse_time("2025-05-06T10:00:24Z")
    assert decide(fx, now=parse_time("2025-05-06T10:00:24Z")).state == COMPLETE


def test_a_rollout_is_not_done_while_a_new_pod_is_down_after_a_crash():
    fx = backend("kubelet_crashloop_terminated", "running_ready")
    fx["workload"]["status"].update(replicas=2, updatedReplicas=2, availableReplicas=2)
    assert decide(fx).state != COMPLETE


def test_back_off_event_before_the_last_failure_is_no_evidence():
    fx = restarted_backend("kubelet_restarted_not_ready", "kubelet_restarted_not_ready")
    # About an earlier restart than the one after the failure at 10:00:13.
    add_event(fx, NEW_BACKEND[0], "restart_backoff", count=1,
              firstTimestamp="2025-05-06T10:00:12Z", lastTimestamp="2025-05-06T10:00:12Z")
    assert decide(fx).problems == []
    # The kubelet held back the restart after it: a loop, below the threshold so far.
    add_event(fx, NEW_BACKEND[1], "restart_backoff", metadata={"name": "held-back"}, count=1,
              firstTimestamp="2025-05-06T10:00:13Z", lastTimestamp="2025-05-06T10:00:13Z")
    verdict = decide(fx)
    assert verdict.state == PROGRESSING
    assert [(p.pod_name, p.reason, p.fatal) for p in verdict.problems] == [
        (NEW_BACKEND[1], "CrashLoopBackOff", False)]
    timed_out = at_timeout(verdict, objects(fx), 300)
    assert timed_out.headline == "timed out after 300s: 1/2 new pods CrashLoopBackOff (exit 1, 1 restart)"


def test_back_off_event_is_about_the_container_it_names():
    fx = restarted_backend("kubelet_restarted_after_oom", "running_ready")
    statuses = pod(fx, NEW_BACKEND[0])["status"]["containerStatuses"]
    statuses.insert(0, {"name": "sidecar", "ready": True, "restartCount": 0, "state": {"running": {}}})
    event = add_event(fx, NEW_BACKEND[0], "restart_backoff", count=2,
                      message="Back-off restarting failed container sidecar in pod x",
                      firstTimestamp="2025-05-06T10:00:08Z", lastTimestamp="2025-05-06T10:00:17Z")
    assert decide(fx).state == PROGRESSING
    event["message"] = "Back-off restarting failed container"  # older kubelets name none...
    event["involvedObject"]["fieldPath"] = "spec.containers{app}"  # ...but the field path does
    assert decide(fx).headline == "1/2 new pods OOMKilled (container app, exit 137)"


def test_image_pull_back_off_event_is_no_crash_evidence():
    fx = restarted_backend("kubelet_restarted_after_oom", "running_ready")
    add_event(fx, NEW_BACKEND[0], "image_pull_backoff")
    assert decide(fx).state == PROGRESSING


def test_real_kubelet_crash_loop_below_the_threshold_is_named_at_the_timeout():
    fx = backend("kubelet_crashloop_terminated", "kubelet_crashloop_terminated")
    timed_out = at_timeout(decide(fx, restart_threshold=10), objects(fx), 120)
    assert timed_out.reason == "CrashLoopBackOff"
    assert timed_out.headline == ("timed out after 120s: 2/2 new pods CrashLoopBackOff "
                                  "(exit 1, 3 restarts)")


def test_container_that_keeps_exiting_zero_is_a_crash_loop():
    verdict = decide(backend("kubelet_exits_zero_in_a_loop", "running_ready"))
    assert verdict.headline == "1/2 new pods CrashLoopBackOff (exit 0)"


def test_real_kubelet_init_container_crash_loop_fails():
    verdict = decide(backend("kubelet_init_crashloop", "running_ready"))
    assert verdict.state == FAILED
    assert verdict.headline == "1/2 new pods CrashLoopBackOff (container migrate, exit 1)"
    assert verdict.culprits[0].termination_message == 'relation "orders" already exists\n'
    assert log_requests(verdict) == [LogRequest(NEW_BACKEND[0], "migrate", True)]


def test_init_container_that_failed_once_then_completed_is_not_a_failure():
    verdict = decide(backend("kubelet_init_recovered", "running_ready"))
    assert verdict.problems == []


def test_init_container_exit_zero_is_its_success_even_after_restarts():
    fx = backend("kubelet_init_recovered", "running_ready")
    init = pod(fx, NEW_BACKEND[0])["status"]["initContainerStatuses"][0]
    init.update(ready=False, restartCount=2)
    assert decide(fx).problems == []


def test_sidecar_that_keeps_exiting_zero_is_a_crash_loop():
    fx = backend("kubelet_init_recovered", "running_ready")
    target = pod(fx, NEW_BACKEND[0])
    target["spec"]["initContainers"] = [{"name": "migrate", "restartPolicy": "Always"}]
    target["status"]["initContainerStatuses"][0].update(ready=False, restartCount=2)
    assert decide(fx).headline == "1/2 new pods CrashLoopBackOff (container migrate, exit 0)"


def test_statefulset_new_pod_crashing_between_restarts_fails():
    fx = statefulset(readyReplicas=2)
    set_state(fx, "db-2", "kubelet_crashloop_terminated")
    assert decide(fx).headline == "1/1 new pods CrashLoopBackOff (exit 1)"


def test_job_pod_restarted_in_place_crash_loop_fails():
    fx = load("job_running")  # restartPolicy OnFailure: the kubelet restarts the container
    set_state(fx, "report-8sx2l", "kubelet_crashloop_terminated")
    assert decide(fx).headline == "1/1 new pods CrashLoopBackOff (exit 1)"


def test_job_pod_that_failed_for_good_is_left_to_the_job():
    fx = load("job_running")
    set_state(fx, "report-8sx2l", "kubelet_crashloop_terminated")
    pod(fx, "report-8sx2l")["status"]["phase"] = "Failed"  # nothing restarts in it any more
    verdict = decide(fx)
    assert verdict.state == PROGRESSING
    assert verdict.problems == []


# --- Unschedulable ------------------------------------------------------------------------------


def test_unschedulable_fails_after_the_grace():
    verdict = decide(backend("unschedulable", "running_ready"))
    assert verdict.state == FAILED
    assert verdict.headline == "1/2 new pods Unschedulable"
    assert verdict.culprits[0].message.startswith("0/3 nodes are available: 3 Insufficient cpu.")


def test_unschedulable_within_the_grace_asks_for_a_recheck():
    just_marked = parse_time("2025-05-06T10:00:03Z")
    verdict = decide(backend("unschedulable", "running_ready"), now=just_marked)
    assert verdict.state == PROGRESSING
    assert verdict.recheck_at == parse_time("2025-05-06T10:00:07Z")


def test_unschedulable_while_old_pods_terminate_is_not_a_failure():
    fx = backend("unschedulable", "running_ready")
    pod(fx, OLD_BACKEND)["metadata"]["deletionTimestamp"] = "2025-05-06T10:04:50Z"
    assert decide(fx).state == PROGRESSING


def test_unschedulable_while_the_autoscaler_adds_a_node_is_not_a_failure():
    fx = backend("unschedulable", "running_ready")
    add_event(fx, NEW_BACKEND[0], "triggered_scale_up")
    assert decide(fx).state == PROGRESSING


def test_unschedulable_for_an_unbound_volume_is_not_a_failure():
    assert decide(backend("unschedulable_unbound_pvc", "running_ready")).state == PROGRESSING


def claim_warning(fx: dict, claim: str, reason: str, message: str, when: str = "2025-05-06T10:00:03Z") -> None:
    fx["events"].append({
        "metadata": {"name": f"{claim}.{reason}", "namespace": "shop"},
        "involvedObject": {"kind": "PersistentVolumeClaim", "name": claim, "namespace": "shop", "uid": "pvc-1"},
        "reason": reason, "message": message, "type": "Warning", "count": 3,
        "firstTimestamp": when, "lastTimestamp": when})


def waiting_for_a_claim(claim: str = "data-backend-0") -> dict:
    fx = backend("unschedulable_unbound_pvc", "running_ready")
    pod(fx, NEW_BACKEND[0])["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return fx


def test_a_claim_that_cannot_be_provisioned_fails_naming_the_claim_after_the_grace():
    fx = waiting_for_a_claim()
    claim_warning(fx, "data-backend-0", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found')
    verdict = decide(fx)
    assert verdict.state == FAILED
    assert verdict.reason == "ProvisioningFailed"
    assert message("deployment/backend", verdict, []) == (
        'deployment/backend: 1/2 new pods ProvisioningFailed: '
        '"PersistentVolumeClaim data-backend-0: storageclass.storage.k8s.io "fast" not found"')


def test_a_claim_warning_within_the_grace_asks_for_a_recheck():
    fx = waiting_for_a_claim()
    claim_warning(fx, "data-backend-0", "FailedBinding", "no persistent volumes available for this claim and no storage class is set")
    marked = parse_time("2025-05-06T10:00:02Z")  # when the pod was marked unschedulable
    verdict = decide(fx, now=marked + datetime.timedelta(seconds=5))
    assert verdict.state == PROGRESSING
    assert verdict.recheck_at == marked + datetime.timedelta(seconds=15)


def test_warnings_about_other_claims_do_not_count():
    fx = waiting_for_a_claim()
    claim_warning(fx, "data-other-0", "ProvisioningFailed", "not ours")
    assert decide(fx).state == PROGRESSING


# --- At the timeout -----------------------------------------------------------------------------


def test_timeout_names_failing_readiness_probes():
    fx = backend("running_not_ready", "running_not_ready")
    add_event(fx, NEW_BACKEND[1], "readiness_failed")
    verdict = decide(fx)
    assert verdict.state == PROGRESSING
    timed_out = at_timeout(verdict, objects(fx), 300)
    assert timed_out.state == TIMED_OUT
    assert timed_out.reason == "ReadinessProbeFailed"
    assert timed_out.headline == "timed out after 300s: 1/2 new pods not ready, readiness probe failing"
    assert timed_out.detail == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert [c.pod_name for c in timed_out.culprits] == [NEW_BACKEND[1]]


def with_probes(fx: dict, name: str, **probes) -> None:
    pod(fx, name)["spec"]["containers"][0].update(probes)


READINESS = {"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5,
                                "failureThreshold": 3, "timeoutSeconds": 2}}


def test_probe_grace_comes_from_the_probes_own_settings():
    # Readiness: delay 0 + (period 5 + timeout 2) x 3 failures + one period of slack = 26 s.
    assert probe_grace(READINESS) == datetime.timedelta(seconds=26)
    # Kubernetes' defaults: (10 + 1) x 3 + 10.
    assert probe_grace({"readinessProbe": {"exec": {"command": ["true"]}}}) == datetime.timedelta(seconds=43)
    # A startup probe's whole allowance comes first: 20 + (2 + 1) x 30 = 110 s more.
    startup = {"startupProbe": {"initialDelaySeconds": 20, "periodSeconds": 2, "failureThreshold": 30}}
    assert probe_grace({**READINESS, **startup}) == datetime.timedelta(seconds=136)
    assert probe_grace({"livenessProbe": READINESS["readinessProbe"]}) is None


def test_a_readiness_probe_failing_past_its_grace_fails_the_rollout_naming_it():
    fx = backend("running_not_ready", "running_ready")
    with_probes(fx, NEW_BACKEND[0], **READINESS)
    add_event(fx, NEW_BACKEND[0], "readiness_failed")
    verdict = decide(fx)  # 10:05, the container started at 10:00:03: far past 26 s
    assert verdict.state == FAILED
    assert verdict.reason == "ReadinessProbeFailed"
    assert verdict.headline == "1/2 new pods ReadinessProbeFailed"
    assert [c.pod_name for c in verdict.culprits] == [NEW_BACKEND[0]]
    assert message("deployment/backend", verdict, []) == (
        'deployment/backend: 1/2 new pods ReadinessProbeFailed: '
        '"Readiness probe failed: HTTP probe failed with statuscode: 503"')
    # Its log is asked for, for the diagnosis.
    assert [r.pod for r in log_requests(verdict)] == [NEW_BACKEND[0]]


def test_a_readiness_probe_failing_within_its_grace_is_only_slow():
    fx = backend("running_not_ready", "running_ready")
    with_probes(fx, NEW_BACKEND[0], **READINESS)
    add_event(fx, NEW_BACKEND[0], "readiness_failed")
    started = parse_time("2025-05-06T10:00:03Z")
    verdict = decide(fx, now=started + datetime.timedelta(seconds=20))
    assert verdict.state == PROGRESSING
    # Looked at again when the grace ends, without waiting for an event.
    assert verdict.recheck_at == started + datetime.timedelta(seconds=26)
    assert decide(fx, now=started + datetime.timedelta(seconds=26)).state == FAILED


def test_an_unready_container_whose_probe_never_failed_is_not_failed():
    # Past the grace but no Unhealthy event: nothing says the probe fails (the events may lag).
    fx = backend("running_not_ready", "running_ready")
    with_probes(fx, NEW_BACKEND[0], **READINESS)
    verdict = decide(fx)
    assert verdict.state == PROGRESSING
    assert verdict.problems == []


def test_readiness_failures_of_an_earlier_run_do_not_count():
    fx = backend("running_not_ready", "running_ready")
    with_probes(fx, NEW_BACKEND[0], **READINESS)
    add_event(fx, NEW_BACKEND[0], "readiness_failed", lastTimestamp="2025-05-06T10:00:02Z")
    assert decide(fx).state == PROGRESSING


def test_a_liveness_probe_failure_is_no_readiness_verdict():
    fx = backend("running_not_ready", "running_ready")
    with_probes(fx, NEW_BACKEND[0], **READINESS)
    add_event(fx, NEW_BACKEND[0], "readiness_failed", message="Liveness probe failed: connection refused")
    assert decide(fx).state == PROGRESSING


def test_timeout_of_pods_that_never_get_ready():
    fx = backend("running_not_ready", "running_not_ready")
    timed_out = at_timeout(decide(fx), objects(fx), 60)
    assert timed_out.reason == "NotReady"
    assert timed_out.headline == "timed out after 60s: 2/2 new pods Running but not Ready"


def test_timeout_reports_a_crash_loop_below_the_threshold():
    fx = load("deployment_crashloop")
    timed_out = at_timeout(decide(fx, restart_threshold=10), objects(fx), 120)
    assert timed_out.reason == "CrashLoopBackOff"
    assert timed_out.headline == "timed out after 120s: 2/2 new pods CrashLoopBackOff (exit 1, 3 restarts)"


def test_timeout_of_pending_pods():
    fx = backend("container_creating", "container_creating")
    timed_out = at_timeout(decide(fx), objects(fx), 30)
    assert (timed_out.reason, timed_out.headline) == ("Pending", "timed out after 30s: 2/2 new pods Pending")


def test_timeout_before_any_pod_exists_uses_the_controller_progress():
    fx = backend("running_ready", "running_ready")
    fx["pods"] = []
    fx["workload"]["status"].update(updatedReplicas=0)
    timed_out = at_timeout(decide(fx), objects(fx), 30)
    assert timed_out.headline == "timed out after 30s: 0 of 2 new replicas updated"


# --- StatefulSet --------------------------------------------------------------------------------


def statefulset(**status) -> dict:
    fx = load("statefulset_rollout")
    fx["workload"]["status"].update(status)
    return fx


def all_pods_at_update_revision(fx: dict) -> None:
    for p in fx["pods"]:
        p["metadata"]["labels"]["controller-revision-hash"] = "db-5f8d7c6b9"


def test_statefulset_partitioned_rollout_in_progress():
    verdict = decide(statefulset())
    assert verdict.state == PROGRESSING
    assert verdict.headline == "1 of 3 new pods updated (partition 0)"
    assert verdict.revision == 2
    assert [p["metadata"]["name"] for p in verdict.new_pods] == ["db-2"]


def test_statefulset_complete():
    fx = statefulset(updatedReplicas=3, currentReplicas=3)
    all_pods_at_update_revision(fx)
    verdict = decide(fx)
    assert verdict.state == COMPLETE
    assert verdict.ready_at == parse_time("2025-05-06T10:00:29Z")


def test_statefulset_partition_limits_what_must_be_updated():
    fx = statefulset()
    fx["workload"]["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    verdict = decide(fx)
    assert verdict.state == COMPLETE
    assert verdict.headline == "partitioned roll out complete: 1 new pods updated"


def test_statefulset_waits_for_ready_replicas_first():
    verdict = decide(statefulset(readyReplicas=2))
    assert verdict.headline == "2 of 3 pods ready"


@pytest.mark.parametrize("current, state", [("db-7c9b8d5f4", PROGRESSING), ("db-5f8d7c6b9", COMPLETE)])
def test_statefulset_without_rolling_update_params_compares_revisions(current, state):
    fx = statefulset(currentRevision=current)
    del fx["workload"]["spec"]["updateStrategy"]["rollingUpdate"]
    assert decide(fx).state == state


def test_statefulset_not_yet_observed():
    verdict = decide(statefulset(observedGeneration=0))
    assert verdict.state == PROGRESSING
    assert "observe" in verdict.headline


def test_statefulset_pods_of_a_stale_update_revision_cannot_fail_a_newer_spec():
    fx = statefulset(readyReplicas=2)
    set_state(fx, "db-2", "crashloop_with_termination_message")
    fx["workload"]["metadata"]["generation"] = 3  # a fix applied, not yet seen by the controller
    verdict = decide(fx)
    assert verdict.state == PROGRESSING
    assert verdict.new_pods == []


def test_statefulset_on_delete_is_reported_not_waited_for():
    fx = statefulset()
    fx["workload"]["spec"]["updateStrategy"] = {"type": "OnDelete"}
    verdict = decide(fx)
    assert (verdict.state, verdict.reason) == (NOT_WAITED, "OnDelete")


def test_statefulset_new_revision_pod_crash_loop_fails():
    fx = statefulset(readyReplicas=2)
    set_state(fx, "db-2", "crashloop_with_termination_message")
    verdict = decide(fx)
    assert verdict.state == FAILED
    assert verdict.headline == "1/1 new pods CrashLoopBackOff (exit 2)"


def test_statefulset_old_revision_pod_crash_loop_is_not_a_failure():
    fx = statefulset(readyReplicas=2)
    set_state(fx, "db-0", "crashloop_with_termination_message")
    assert decide(fx).state == PROGRESSING


def test_statefulset_stale_failed_create_event_is_ignored():
    fx = statefulset(readyReplicas=2)
    assert fx["events"][0]["reason"] == "FailedCreate"
    assert decide(fx).state == PROGRESSING


def test_statefulset_failed_create_after_the_spec_change_fails():
    fx = statefulset(readyReplicas=2)
    workload_event(fx, "FailedCreate", 'create Pod db-1 in StatefulSet db failed error: pods "db-1" '
                   'is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
                   "2025-05-06T10:01:00Z")
    verdict = decide(fx)
    assert (verdict.state, verdict.reason) == (FAILED, "FailedCreate")
    assert "violates PodSecurity" in verdict.detail


def test_statefulset_failed_create_followed_by_a_created_pod_is_over():
    fx = statefulset(readyReplicas=2)
    workload_event(fx, "FailedCreate", "exceeded quota", "2025-05-06T10:00:10Z")
    assert decide(fx).state == PROGRESSING  # db-2 was created at 10:00:20, after the refusal


# --- DaemonSet ----------------------------------------------------------------------------------


def daemonset(**status) -> dict:
    fx = load("daemonset_rollout")
    fx["workload"]["status"].update(status)
    return fx


def test_daemonset_rollout_in_progress():
    verdict = decide(daemonset())
    assert verdict.state == PROGRESSING
    assert verdict.headline == "2 of 3 new pods updated"
    assert verdict.revision == 2
    assert sorted(p["metadata"]["name"] for p in verdict.new_pods) == ["node-agent-4jx8d", "node-agent-9wq2c"]


def test_daemonset_waits_for_available_pods():
    verdict = decide(daemonset(updatedNumberScheduled=3))
    assert verdict.headline == "2 of 3 updated pods available"


def test_daemonset_complete():
    verdict = decide(daemonset(updatedNumberScheduled=3, numberAvailable=3))
    assert verdict.state == COMPLETE


def test_daemonset_not_yet_observed():
    assert "observe" in decide(daemonset(observedGeneration=1)).headline


def test_daemonset_on_delete_is_reported_not_waited_for():
    fx = daemonset()
    fx["workload"]["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert decide(fx).state == NOT_WAITED


def test_daemonset_new_pod_image_pull_fails():
    fx = daemonset()
    set_state(fx, "node-agent-9wq2c", "image_pull_backoff")
    verdict = decide(fx)
    assert verdict.headline == "1/2 new pods ImagePullBackOff"


def test_daemonset_old_pod_failing_is_not_a_failure():
    fx = daemonset()
    set_state(fx, "node-agent-z7k4m", "crashloop_with_termination_message")
    assert decide(fx).state == PROGRESSING


def test_daemonset_revision_hash_from_the_name_when_unlabelled():
    fx = daemonset()
    for cr in fx["controllerrevisions"]:
        del cr["metadata"]["labels"]["controller-revision-hash"]
    assert len(decide(fx).new_pods) == 2


def test_daemonset_failed_create_fails():
    fx = daemonset()
    workload_event(fx, "FailedCreate", 'Error creating: pods "node-agent-" is forbidden: exceeded quota',
                   "2025-05-06T10:02:00Z")
    assert decide(fx).reason == "FailedCreate"


# --- Job ----------------------------------------------------------------------------------------


def test_job_backoff_limit_exceeded_reports_the_last_failed_pod():
    verdict = decide(load("job_failed"))
    assert verdict.state == FAILED
    assert verdict.reason == "BackoffLimitExceeded"
    assert verdict.headline == "BackoffLimitExceeded (2 failed pods, exit 3)"
    assert verdict.detail == "Job has reached the specified backoff limit"
    assert verdict.culprits[0].pod_name == "migrate-w8f3t"
    assert verdict.culprits[0].termination_message.startswith('relation "orders"')


def test_job_failure_target_fails_before_pods_are_gone():
    fx = load("job_failed")
    fx["workload"]["status"]["conditions"] = fx["workload"]["status"]["conditions"][:1]
    assert decide(fx).reason == "BackoffLimitExceeded"


def test_job_deadline_exceeded():
    fx = load("job_failed")
    for cond in fx["workload"]["status"]["conditions"]:
        cond.update(reason="DeadlineExceeded", message="Job was active longer than specified deadline")
    fx["pods"] = []
    verdict = decide(fx)
    assert (verdict.state, verdict.headline) == (FAILED, "DeadlineExceeded")
    assert verdict.detail == "Job was active longer than specified deadline"


def test_job_running():
    verdict = decide(load("job_running"))
    assert verdict.state == PROGRESSING
    assert verdict.headline == "1 of 3 succeeded, 1 active, 0 failed"
    assert verdict.revision is None


@pytest.mark.parametrize("condition", ["Complete", "SuccessCriteriaMet"])
def test_job_complete(condition):
    fx = load("job_running")
    fx["workload"]["status"].update(
        completionTime="2025-05-06T10:00:41Z",
        conditions=[{"type": condition, "status": "True", "lastTransitionTime": "2025-05-06T10:00:41Z"}])
    verdict = decide(fx)
    assert verdict.state == COMPLETE
    # A Job's spec is written once, at creation.
    assert (verdict.ready_at - verdict.spec_changed_at).total_seconds() == 41


def test_job_suspended_is_not_waited_for():
    fx = load("job_running")
    fx["workload"]["spec"]["suspend"] = True
    assert decide(fx).state == NOT_WAITED


def test_job_pod_crash_loop_fails():
    fx = load("job_running")
    set_state(fx, "report-8sx2l", "crashloop_with_termination_message")
    assert decide(fx).headline == "1/1 new pods CrashLoopBackOff (exit 2)"


def test_job_failed_pod_that_will_be_retried_is_not_a_failure():
    fx = load("job_running")
    set_state(fx, "report-8sx2l", "job_pod_failed")
    assert decide(fx).state == PROGRESSING


# --- ReplicaSet ---------------------------------------------------------------------------------


def test_replicaset_progress_and_completion():
    fx = load("replicaset_standalone")
    assert decide(fx).headline == "1 of 2 pods available (2 exist)"
    fx["workload"]["status"]["availableReplicas"] = 2
    assert decide(fx).state == COMPLETE


def test_replicaset_failed_create():
    fx = load("replicaset_standalone")
    fx["workload"]["status"]["conditions"] = [{
        "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
        "message": 'pods "cache-x" is forbidden: exceeded quota: shop-quota'}]
    verdict = decide(fx)
    assert (verdict.state, verdict.reason) == (FAILED, "FailedCreate")


FIXTURE_NAMES = sorted(path.stem for path in FIXTURES.glob("*.yml") if path.stem != "pod_states")


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_the_index_gives_each_workload_all_it_is_decided_on(name: str) -> None:
    fx = load(name)
    whole = decide(fx)
    related = ObjectIndex(objects(fx)).related(fx["workload"])
    assert evaluate(fx["kind"], fx["workload"], related, NOW) == whole
    assert at_timeout(whole, related, 60) == at_timeout(whole, objects(fx), 60)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_the_index_leaves_out_other_workloads_objects(name: str) -> None:
    fx = load(name)
    others = [load(other) for other in FIXTURE_NAMES if other != name]
    merged = Objects(*([item for f in [fx, *others] for item in f[key]]
                       for key in ("pods", "events", "replicasets", "controllerrevisions")))
    related = ObjectIndex(merged).related(fx["workload"])
    assert evaluate(fx["kind"], fx["workload"], related, NOW) == decide(fx)
    for key in ("pods", "replicasets", "controllerrevisions"):
        theirs = {item["metadata"]["uid"] for f in others for item in f[key]}
        assert not theirs & {item["metadata"]["uid"] for item in getattr(related, key)}
    # In the namespace's order, and nothing of this workload left out.
    assert related.pods == [p for p in fx["pods"] if p in related.pods]
