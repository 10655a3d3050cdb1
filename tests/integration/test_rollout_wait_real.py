"""rollout_wait against failures the sandbox's real node makes: real crashes with their real
last log line, a real OOM kill, a readiness probe that never passes (failed after the grace its
settings imply), a missing image and a
missing Secret key, through real ansible-playbook runs."""

from __future__ import annotations

import pytest

from playbook import PlaybookRun, run_playbook
from realnode import node_image, restricted_pod

PLAYBOOK = "tests/integration/playbooks/rollout_wait.yml"
TASK = "Wait for the rollouts"
TIMEOUT = 120
HEALTHY = ["python3", "-u", "-c", "print('serving', flush=True); import time; time.sleep(86400)"]


@pytest.fixture(scope="module")
def image() -> str:
    return node_image()


def deployment(name: str, image: str, command: list[str], replicas: int = 1, **container) -> dict:
    pod = restricted_pod(name, image, command, **container)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": pod["metadata"], "spec": pod["spec"]}}}


def roll_out(namespace: str, manifests: list, **options) -> tuple[PlaybookRun, dict]:
    run = run_playbook(PLAYBOOK, {"rollout_namespace": namespace, "rollout_manifests": manifests,
                                  "rollout_options": {"timeout": TIMEOUT, **options}})
    [result] = run.results(TASK)
    return run, result


def failed_upgrade(namespace: str, base_image: str, **broken) -> dict:
    """A healthy revision rolled out, then a broken one; the broken rollout's target."""
    healthy = deployment("web", base_image, HEALTHY)
    first, result = roll_out(namespace, [healthy], targets=["deployment/web"])
    assert first.returncode == 0, result.get("msg")
    container = healthy["spec"]["template"]["spec"]["containers"][0]
    container.update(broken)
    run, result = roll_out(namespace, [healthy], targets=["deployment/web"])
    assert run.returncode != 0, f"the broken rollout did not fail the task: {result}"
    [target] = result["targets"]
    assert target["status"] == "failed"
    assert target["revision"] == 2
    return target


def test_a_command_that_exits_1_is_a_crash_loop_named_with_its_last_log_line(
        namespace: str, image: str) -> None:
    # Both lines on stdout: containerd copies stdout and stderr into the log by two goroutines,
    # so lines written to the two streams within microseconds may land in either order (seen
    # under load: the stderr line first, and the stdout line last).
    target = failed_upgrade(namespace, image, command=[
        "python3", "-u", "-c", "print('connecting to the queue'); print('no queue at redis:6379'); raise SystemExit(1)"])
    assert target["reason"] == "CrashLoopBackOff"
    assert "1/1 new pods CrashLoopBackOff (exit 1)" in target["message"]
    assert target["message"].endswith('"no queue at redis:6379"')
    # Found between restarts, long before the progress deadline (600 s).
    assert target["waited_seconds"] < 60


def test_a_memory_limit_exceeded_is_an_oom_kill(namespace: str, image: str) -> None:
    target = failed_upgrade(
        namespace, image,
        command=["python3", "-c", "blocks = [bytearray(16 << 20) for _ in range(64)]"],
        resources={"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}})
    assert target["reason"] == "OOMKilled"
    assert "OOMKilled (exit 137)" in target["message"]
    assert target["waited_seconds"] < 60


def test_a_readiness_probe_that_never_passes_fails_after_its_own_grace(namespace: str, image: str) -> None:
    # The probe allows (1 s period + 1 s timeout) x 3 failures + 1 s: 7 s after the start, long
    # before the progress deadline (600 s), which `kubectl rollout status` would wait for.
    target = failed_upgrade(namespace, image, readinessProbe={
        "exec": {"command": ["sh", "-c", "echo 'cache not warm' >&2; exit 1"]}, "periodSeconds": 1})
    assert target["reason"] == "ReadinessProbeFailed"
    assert "1/1 new pods ReadinessProbeFailed" in target["message"]
    assert "cache not warm" in target["message"]
    # The grace runs from the container's start (unit-tested to the second), which may come
    # before the module's own start; what counts here is failing long before the deadline.
    assert target["waited_seconds"] < 60
    events = [e for e in target["diagnosis"]["events"] if e["reason"] == "Unhealthy"]
    assert events and "cache not warm" in events[-1]["message"]
    # The log tail of the container is in the diagnosis.
    assert any("serving" in line for tail in target["diagnosis"]["logs"] for line in tail.get("lines", []))


def test_a_missing_image_is_err_image_never_pull(namespace: str, image: str) -> None:
    target = failed_upgrade(namespace, image, image="slipway/never-built:1")
    assert target["reason"] == "ErrImageNeverPull"
    assert "slipway/never-built:1" in target["message"]
    assert target["waited_seconds"] < 60


def test_a_missing_secret_key_is_a_create_container_config_error(namespace: str, image: str) -> None:
    target = failed_upgrade(namespace, image, env=[{"name": "TOKEN", "valueFrom": {
        "secretKeyRef": {"name": "api-credentials", "key": "token"}}}])
    assert target["reason"] == "CreateContainerConfigError"
    assert "api-credentials" in target["message"]
    assert target["waited_seconds"] < 60


def never_ready(name: str, image: str) -> dict:
    """A Deployment whose pod runs and is never Ready: its probe's first check is an hour away."""
    return deployment(name, image, HEALTHY, readinessProbe={
        "exec": {"command": ["true"]}, "initialDelaySeconds": 3600})


def test_progress_lines_are_printed_while_it_waits_and_the_result_is_unchanged(namespace: str, image: str) -> None:
    # A wait of exactly `timeout` seconds from the module's start, whatever the machine's load.
    run, result = roll_out(namespace, [never_ready("slow", image)], targets=["deployment/slow"],
                           timeout=9, progress_interval=2)
    assert run.returncode != 0
    progress = [line.strip() for line in run.stderr.splitlines() if line.strip().startswith("waiting: ")]
    # At 2, 4, 6 and 8 s: the counts as the rollout stands (the first may come before the
    # controller has counted the new pod).
    assert len(progress) >= 3, run.stderr
    assert "waiting: deployment/slow 1/1 updated, 0/1 ready, 1 unavailable" in progress
    [printed] = result["targets"]

    quiet, result = roll_out(namespace, [never_ready("quiet", image)], targets=["deployment/quiet"],
                             timeout=9, progress_interval=2, progress=False)
    assert quiet.returncode != 0
    assert "waiting: " not in quiet.stderr
    [unprinted] = result["targets"]
    assert (printed["status"], printed["reason"]) == (unprinted["status"], unprinted["reason"]) == (
        "timed_out", "NotReady")


def test_a_rollout_that_stops_moving_fails_after_the_no_progress_timeout(namespace: str, image: str) -> None:
    # Running, never Ready, and still within the grace its probe implies ((60 + 1) x 3 + 60 s):
    # once the container runs, nothing about the rollout changes.
    stuck = deployment("stuck", image, HEALTHY, readinessProbe={"exec": {"command": ["false"]}, "periodSeconds": 60})
    run, result = roll_out(namespace, [stuck], targets=["deployment/stuck"], no_progress_timeout=5)
    assert run.returncode != 0
    [target] = result["targets"]
    assert target["status"] == "timed_out"
    assert "no progress for 5s: 1/1 new pods" in target["message"]
    assert target["reason"] in ("ReadinessProbeFailed", "NotReady")
    assert 5 <= target["waited_seconds"] < TIMEOUT
