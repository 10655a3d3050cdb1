"""What the operator reads: msg lines, quotes, log requests, events and pod summaries."""

from test_rollout_status import NEW_BACKEND, OLD_BACKEND, add_event, backend, decide, load, objects

from ansible.module_utils.rollout_report import (
    LogRequest,
    LogTail,
    diagnosis,
    log_requests,
    message,
    relevant_events,
)
from ansible.module_utils.rollout_status import at_timeout

PYMONGO = ("pymongo.errors.ServerSelectionTimeoutError: mongo:27017: [Errno 111] "
           "Connection refused, Timeout: 30s")


def first_culprit_logs(verdict, *lines: str) -> list:
    return [LogTail(LogRequest(verdict.culprits[0].pod_name, "app", True), lines=lines)]


def test_crash_loop_message_quotes_the_last_log_line():
    verdict = decide(load("deployment_crashloop"))
    logs = first_culprit_logs(verdict, "connecting to mongo:27017", PYMONGO, "")
    assert message("deployment/backend", verdict, logs) == (
        f'deployment/backend: 2/2 new pods CrashLoopBackOff (exit 1): "{PYMONGO}"')


def test_termination_message_wins_over_the_log():
    verdict = decide(backend("crashloop_with_termination_message", "crashloop_with_termination_message"))
    logs = first_culprit_logs(verdict, "some earlier line")
    assert message("deployment/backend", verdict, logs).endswith(
        '(exit 2): "config error: DATABASE_URL is not set"')


def test_unavailable_log_leaves_no_back_off_noise_in_the_message():
    verdict = decide(load("deployment_crashloop"))
    logs = [LogTail(LogRequest(verdict.culprits[0].pod_name, "app", True),
                    unavailable="log unavailable: API server answered 500")]
    assert message("deployment/backend", verdict, logs) == (
        "deployment/backend: 2/2 new pods CrashLoopBackOff (exit 1)")


def test_workload_level_failure_quotes_the_server():
    verdict = decide(load("deployment_failedcreate"))
    assert message("deployment/web", verdict, []).startswith(
        'deployment/web: ReplicaSet web-84c6d9f5b8 FailedCreate: "pods "web-84c6d9f5b8-5xk2w"'
        ' is forbidden: violates PodSecurity')


def test_job_failure_quotes_the_failed_pod():
    verdict = decide(load("job_failed"))
    assert message("job/migrate", verdict, []) == (
        'job/migrate: BackoffLimitExceeded (2 failed pods, exit 3): "relation "orders" already exists"')


def test_complete_message_has_no_quote():
    fx = backend("running_ready", "running_ready")
    fx["workload"]["status"].update(replicas=2, updatedReplicas=2, availableReplicas=2)
    assert message("deployment/backend", decide(fx), []) == "deployment/backend: successfully rolled out"


def test_long_quotes_are_cut_to_one_line_keeping_both_ends():
    verdict = decide(load("deployment_crashloop"))
    said = message("deployment/backend", verdict, first_culprit_logs(verdict, "start " + "x" * 1000 + " the cause"))
    assert len(said) < 400
    assert '"start xxx' in said and 'xxx ... xxx' in said and said.endswith('the cause"')


def test_log_requests_want_the_previous_container_of_crashed_pods():
    verdict = decide(load("deployment_crashloop"))
    assert log_requests(verdict) == [LogRequest(c.pod_name, "app", True) for c in verdict.culprits]


def test_no_logs_requested_for_image_pull_errors():
    assert log_requests(decide(backend("image_pull_backoff", "image_pull_backoff"))) == []


def test_logs_of_pods_that_never_get_ready_are_current():
    fx = backend("running_not_ready", "running_not_ready")
    timed_out = at_timeout(decide(fx), objects(fx), 60)
    requests = log_requests(timed_out)
    assert len(requests) == 2
    assert {r.previous for r in requests} == {False}


def test_events_are_folded_and_newest_last():
    fx = load("deployment_crashloop")
    verdict = decide(fx)
    repeat = add_event(fx, NEW_BACKEND[0], "readiness_failed")
    add_event(fx, NEW_BACKEND[0], "readiness_failed",
              metadata={"name": "again"}, count=2, lastTimestamp="2025-05-06T10:04:59Z")
    events = relevant_events(fx["events"], verdict.related_uids)
    assert [e["reason"] for e in events] == ["ScalingReplicaSet", "Scheduled", "BackOff", "Unhealthy"]
    assert events[-1]["count"] == repeat["count"] + 2
    assert events[-1]["time"] == "2025-05-06T10:04:59+00:00"
    # The old revision's pod is not part of this rollout's story.
    assert all(OLD_BACKEND not in e["object"] for e in events)


def test_diagnosis_lists_new_pods_first_with_container_states():
    fx = load("deployment_crashloop")
    verdict = decide(fx)
    logs = [LogTail(LogRequest(NEW_BACKEND[0], "app", True), unavailable="log unavailable: gone")]
    found = diagnosis(verdict, fx["events"], logs)
    assert [p["revision"] for p in found["pods"]] == ["new", "new", "old"]
    crashed = found["pods"][0]
    assert crashed["problem"] == "CrashLoopBackOff"
    assert crashed["containers"][0]["restart_count"] == 3
    assert crashed["containers"][0]["state"] == "waiting"
    assert crashed["containers"][0]["last_state"] == {
        "state": "terminated", "reason": "Error", "exit_code": 1,
        "started_at": "2025-05-06T10:01:02Z", "finished_at": "2025-05-06T10:01:32Z"}
    assert found["logs"] == [{"pod": NEW_BACKEND[0], "container": "app", "previous": True,
                              "unavailable": "log unavailable: gone"}]


def test_diagnosis_shows_why_a_pod_is_unschedulable():
    verdict = decide(backend("unschedulable", "running_ready"))
    found = diagnosis(verdict, [], [])
    assert found["pods"][0]["unschedulable"].startswith("0/3 nodes are available")
    assert found["pods"][0]["containers"] == []
