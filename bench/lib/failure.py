"""2. Failure detection: how long after an update whose new pods crash-loop each waiter fails,
and whether it names CrashLoopBackOff.

A 3-replica Deployment is updated with the sandbox's crashloop fault on its pod template; the
three waiters then wait on that same failing rollout at the same time (kubectl with the
default 600 s progress deadline, kubernetes.core.k8s with a 600 s wait_timeout, both capped by
the bench), so all see identical conditions. A healthy revision is rolled out between runs.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from .context import Context
from .kube import FAULT_ANNOTATION, REVISION_ANNOTATION, PodRecorder
from .stats import Figure
from .waiters import Run, run_command, run_playbook

NAMESPACE = "bench-failure"
DEPLOYMENT = "crasher"
REPLICAS = 3
CAP = 20.0


def measure(ctx: Context) -> list[Figure]:
    name = "2 failure"
    to_fail = {
        "rollout_wait": Figure(name, "rollout_wait: update -> failed", "s", baseline_of="kubectl rollout status"),
        "kubectl": Figure(name, f"kubectl rollout status: update -> failed (capped at {CAP:.0f} s)", "s", cap=CAP),
        "k8s": Figure(name, f"kubernetes.core.k8s wait: update -> failed (capped at {CAP:.0f} s)", "s",
                      baseline_of="kubectl rollout status", cap=CAP),
    }
    after_crash = Figure(name, "rollout_wait: first CrashLoopBackOff seen -> failed", "s",
                         target="<= 10 s, names the reason",
                         check=lambda f, _: f.median is not None and f.median <= 10
                         and not any("did not name" in n for n in to_fail["rollout_wait"].notes))
    named = {key: 0 for key in to_fail}
    ctx.cluster.create_namespace(NAMESPACE)
    try:
        with PodRecorder(ctx.cluster, NAMESPACE) as pods:
            ctx.cluster.create_deployment(NAMESPACE, DEPLOYMENT, REPLICAS)
            for index in range(ctx.runs):
                _roll_healthy(ctx, pods)
                revision = ctx.revision()
                ctx.cluster.update_template(NAMESPACE, DEPLOYMENT, {REVISION_ANNOTATION: revision,
                                                                    FAULT_ANNOTATION: "crashloop"})
                update_time = time.time()
                with ThreadPoolExecutor(3) as pool:
                    runs = {key: pool.submit(waiter, ctx) for key, waiter in
                            (("rollout_wait", _rollout_wait), ("kubectl", _kubectl), ("k8s", _k8s))}
                    results: dict[str, Run] = {key: future.result() for key, future in runs.items()}
                first_crash = pods.of_revision(revision, pods.log.crashloop_seen)
                for key, run in results.items():
                    if run.returned is None or run.succeeded:
                        to_fail[key].add(None)
                        continue
                    to_fail[key].add(run.returned - update_time)
                    if "CrashLoopBackOff" in run.message:
                        named[key] += 1
                    else:
                        to_fail[key].notes.append(f"run {index + 1}: did not name CrashLoopBackOff: {run.message}")
                rollout_wait = results["rollout_wait"]
                if rollout_wait.returned is not None and not rollout_wait.succeeded and first_crash:
                    after_crash.add(rollout_wait.returned - min(first_crash))
            _roll_healthy(ctx, pods)
    finally:
        ctx.cluster.delete_namespace(NAMESPACE)
    for key, figure in to_fail.items():
        figure.notes.append(f"named CrashLoopBackOff in {named[key]} of {len(figure.samples)} runs")
    return [*to_fail.values(), after_crash]


def _roll_healthy(ctx: Context, pods: PodRecorder) -> None:
    """Roll out a healthy revision so every run starts from a completed rollout."""
    revision = ctx.revision()
    ctx.cluster.apps.patch_namespaced_deployment(DEPLOYMENT, NAMESPACE, {"spec": {"template": {"metadata": {
        "annotations": {REVISION_ANNOTATION: revision, FAULT_ANNOTATION: None}}}}})
    pods.wait_for(lambda log: len(pods.of_revision(revision, log.ready_seen)) >= REPLICAS, 120)


def _rollout_wait(ctx: Context) -> Run:
    return run_playbook("bench/playbooks/rollout_wait.yml", {
        "bench_namespace": NAMESPACE, "bench_targets": [DEPLOYMENT],
        "bench_kubeconfig": str(ctx.slipway.kubeconfig)}, CAP, "Wait for the rollouts")


def _kubectl(ctx: Context) -> Run:
    return run_command(["kubectl", "rollout", "status", f"deployment/{DEPLOYMENT}", "-n", NAMESPACE],
                       CAP, ctx.baseline.kubeconfig)


def _k8s(ctx: Context) -> Run:
    return run_playbook("bench/playbooks/k8s_wait.yml", {
        "bench_namespace": NAMESPACE, "bench_targets": [DEPLOYMENT],
        "bench_kubeconfig": str(ctx.baseline.kubeconfig)}, CAP, "Update and wait for the rollouts")
