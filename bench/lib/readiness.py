"""1. Readiness latency: how long after the last new pod of a rollout turns Ready the waiter
returns.

A 3-replica Deployment (default strategy: one new pod at a time) is updated and each waiter
waits for it, one waiter at a time, in rotating order. The bench watches the pods itself: the
moment it receives the last new pod's Ready=True is the reference (millisecond clock); the
Ready condition's lastTransitionTime, the API's own timestamp, has 1 s resolution and is
reported beside it. A waiter must already be waiting when that pod turns Ready, otherwise the
figure would measure its start-up; such runs are reported and left out.

rollout_wait is an Ansible task, timed by the task's end; its baseline is kubectl rollout status
in an Ansible command task, timed the same way. kubectl on its own, timed by its process, is
shown for reference.
"""

from __future__ import annotations

from .context import Context
from .kube import REVISION_ANNOTATION, PodRecorder
from .stats import Figure
from .waiters import Run, run_command, run_playbook

NAMESPACE = "bench-readiness"
DEPLOYMENT = "web"
REPLICAS = 3
CAP = 120.0


def _rollout_wait(ctx: Context, revision: str) -> tuple[Run, float | None]:
    run = run_playbook("bench/playbooks/rollout_wait.yml", {
        "bench_namespace": NAMESPACE, "bench_targets": [DEPLOYMENT], "bench_kubeconfig": str(ctx.slipway.kubeconfig),
        "bench_update": {REVISION_ANNOTATION: revision}}, CAP, "Wait for the rollouts")
    return run, run.task_started


def _kubectl(ctx: Context, revision: str) -> tuple[Run, float | None]:
    ctx.cluster.update_template(NAMESPACE, DEPLOYMENT, {REVISION_ANNOTATION: revision})
    run = run_command(["kubectl", "rollout", "status", f"deployment/{DEPLOYMENT}", "-n", NAMESPACE,
                       f"--timeout={CAP:.0f}s"], CAP, ctx.baseline.kubeconfig)
    return run, run.started


def _kubectl_task(ctx: Context, revision: str) -> tuple[Run, float | None]:
    run = run_playbook("bench/playbooks/kubectl_wait.yml", {
        "bench_namespace": NAMESPACE, "bench_targets": [DEPLOYMENT], "bench_kubeconfig": str(ctx.baseline.kubeconfig),
        "bench_update": {REVISION_ANNOTATION: revision}}, CAP, "Wait for the rollouts")
    return run, run.task_started


def _k8s(ctx: Context, revision: str) -> tuple[Run, float | None]:
    run = run_playbook("bench/playbooks/k8s_wait.yml", {
        "bench_namespace": NAMESPACE, "bench_targets": [DEPLOYMENT], "bench_kubeconfig": str(ctx.baseline.kubeconfig),
        "bench_update": {REVISION_ANNOTATION: revision}}, CAP, "Update and wait for the rollouts")
    return run, run.task_started


WAITERS = {"rollout_wait": _rollout_wait, "kubectl rollout status": _kubectl,
           "kubectl in a command task": _kubectl_task, "kubernetes.core.k8s wait": _k8s}


def measure(ctx: Context) -> list[Figure]:
    name = "1 readiness"
    in_a_task = "kubectl rollout status in an Ansible command task"
    figures = {
        # rollout_wait and its baseline are both timed at the end of their Ansible task: the
        # same end point, after the same result handling by ansible-playbook.
        "rollout_wait": Figure(name, "rollout_wait: last pod Ready -> task end", "s", baseline_of=in_a_task,
                               target="< 0.5 s and <= kubectl",
                               check=lambda f, b: f.median is not None and f.median < 0.5
                               and (b is None or b.median is None or f.median <= b.median)),
        "kubectl in a command task": Figure(name, f"{in_a_task}: last pod Ready -> task end", "s"),
        "kubernetes.core.k8s wait": Figure(name, "kubernetes.core.k8s wait: last pod Ready -> task end", "s",
                                           baseline_of=in_a_task),
        # For reference: kubectl on its own, timed by its process's exit.
        "kubectl rollout status": Figure(name, "kubectl rollout status alone: last pod Ready -> process exit", "s"),
    }
    by_api = Figure(name, "rollout_wait: Ready lastTransitionTime (1 s res.) -> return", "s")
    ctx.cluster.create_namespace(NAMESPACE)
    try:
        order = list(WAITERS)
        with PodRecorder(ctx.cluster, NAMESPACE) as pods:
            ctx.cluster.create_deployment(NAMESPACE, DEPLOYMENT, REPLICAS)
            pods.wait_for(lambda log: len(log.ready_seen) >= REPLICAS, CAP)
            for index in range(ctx.runs):
                for label in order[index % len(order):] + order[:index % len(order)]:
                    revision = ctx.revision()
                    run, waiting_since = WAITERS[label](ctx, revision)
                    pods.wait_for(lambda log: len(pods.of_revision(revision, log.ready_seen)) >= REPLICAS, 30)
                    ready_seen = pods.of_revision(revision, pods.log.ready_seen)
                    ready_api = pods.of_revision(revision, pods.log.ready_api)
                    figure = figures[label]
                    if not run.succeeded or run.returned is None or len(ready_seen) < REPLICAS:
                        figure.add(None)
                        figure.notes.append(f"run {index + 1}: did not complete: {run.message}")
                        continue
                    last_ready = max(ready_seen)
                    if waiting_since is None or waiting_since > last_ready:
                        figure.notes.append(f"run {index + 1}: started waiting after the last pod was Ready; left out")
                        continue
                    figure.add(run.returned - last_ready)
                    if label == "rollout_wait":
                        by_api.add(run.returned - max(ready_api))
    finally:
        ctx.cluster.delete_namespace(NAMESPACE)
    return [*figures.values(), by_api]
