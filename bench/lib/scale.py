"""4. Scale and 5. memory: site.yml and one rollout_wait over N components against
kubernetes.core's polling wait, with the API requests each made; and rollout_wait's peak RSS
while waiting on the largest rollout.

For each N, an app of N components (image only, 10 replicas and a Service each, one Ingress
rule, Redis, no MongoDB, no Jobs) is deployed by site.yml on the sandbox plus 17 fake nodes (20 in all),
--first-deploys times into a namespace made anew each time. Then site.yml runs again
--scale-runs times with nothing to change. Then, as often,
every Deployment is updated at once by the bench and both waiters wait for that same rollout
side by side, each under its own identity so the API server counts their requests apart. The
bench watches the Deployments itself to know when the last rollout completed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .context import Context
from .kube import IMAGE, KWOK_PLACEMENT, REVISION_ANNOTATION, rollout_completion
from .stats import Figure
from .waiters import BENCH, Run, run_playbook

REPLICAS = 10
EXTRA_NODES = [f"bench-node-{index:02d}" for index in range(17)]
PODS_PER_NODE = 150
CAP = 1800.0


def measure(ctx: Context, counts: list[int], runs: int, first_deploys: int) -> list[Figure]:
    figures: list[Figure] = []
    namespaces = []
    ctx.cluster.create_nodes(EXTRA_NODES, PODS_PER_NODE)
    try:
        ctx.cluster.wait_nodes_ready(EXTRA_NODES)
        for count in counts:
            namespace = f"bench-scale-{count}"
            namespaces.append(namespace)
            figures += _measure_count(ctx, count, namespace, runs, first_deploys, memory=count == max(counts))
            # Deleting thousands of pods takes the controllers minutes: let it run meanwhile.
            ctx.cluster.core.delete_namespace(namespace)
    finally:
        ctx.cluster.cordon_nodes(EXTRA_NODES)
        for namespace in namespaces:
            ctx.cluster.delete_namespace(namespace, timeout=CAP)
        ctx.cluster.delete_nodes(EXTRA_NODES)
    _check_linear(figures, counts)
    return figures


def _measure_count(ctx: Context, count: int, namespace: str, runs: int, first_deploys: int,
                   memory: bool) -> list[Figure]:
    name = f"4 scale {count}"
    pods = count * REPLICAS
    site = Figure(name, f"site.yml first deploy, {count} components / {pods} pods", "s")
    site_requests = Figure(name, "site.yml first deploy: API requests", "requests")
    rerun = Figure(name, f"site.yml re-run with nothing to change, {count} components", "s")
    rerun_requests = Figure(name, "site.yml re-run: API requests", "requests")
    ours = Figure(name, f"rollout_wait over {count} Deployments: update -> return", "s",
                  baseline_of="kubernetes.core.k8s wait")
    theirs = Figure(name, f"kubernetes.core.k8s wait, {count} in a loop: update -> return", "s")
    ours_late = Figure(name, "rollout_wait: last rollout complete -> return", "s",
                       baseline_of="kubernetes.core.k8s wait: last")
    theirs_late = Figure(name, "kubernetes.core.k8s wait: last rollout complete -> return", "s")
    ours_requests = Figure(name, "rollout_wait: API requests", "requests", baseline_of="kubernetes.core.k8s wait: API")
    theirs_requests = Figure(name, "kubernetes.core.k8s wait: API requests", "requests")
    rss = Figure("5 memory", f"rollout_wait peak RSS waiting on {pods} pods", "MiB",
                 target="(no target set)")
    names = [f"c{index:03d}" for index in range(count)]
    app = {
        "slipway_app_namespace": namespace, "slipway_app_name": namespace,
        "slipway_kubeconfig": str(ctx.slipway.kubeconfig), "slipway_kube_context": ctx.slipway.name,
        "slipway_app_components": [{"name": n, "image": IMAGE, "replicas": REPLICAS, "port": 8080,
                                    **({"ingress_host": n} if n == names[0] else {})} for n in names],
        "slipway_app_mongodb": {"enabled": False}, "slipway_app_jobs": [],
        # On kwok's simulated nodes (the real node would run them all).
        "slipway_app_node_selector": KWOK_PLACEMENT["nodeSelector"],
        "slipway_app_tolerations": KWOK_PLACEMENT["tolerations"],
    }
    # Each first deploy goes into a namespace deleted and made anew (its pods all gone first).
    for _ in range(max(first_deploys, 1)):
        ctx.cluster.delete_namespace(namespace, timeout=CAP)
        before = ctx.slipway.requests(ctx.cluster)
        run = run_playbook("site.yml", app, CAP, "Show the deployment")
        if not run.succeeded:
            raise RuntimeError(f"site.yml could not deploy {count} components: {run.message}")
        site.add(run.process_exit - run.started)
        site_requests.add(ctx.slipway.requests(ctx.cluster) - before)
    for _ in range(runs):
        before = ctx.slipway.requests(ctx.cluster)
        run = run_playbook("site.yml", app, CAP, "Show the deployment")
        changed = run.extra.get("stats", {}).get("changed")
        rerun.add(run.process_exit - run.started if run.succeeded and changed == 0 else None)
        rerun_requests.add(ctx.slipway.requests(ctx.cluster) - before)
        if not run.succeeded or changed != 0:
            rerun.notes.append(f"failed or changed {changed} task(s): {run.message[:300]}")
    for _ in range(runs):
        revision = ctx.revision()
        maxrss = ctx.workdir / f"maxrss-{revision}"
        with rollout_completion(ctx.cluster, namespace, revision, set(names)) as done:
            counted = {identity.name: identity.requests(ctx.cluster) for identity in (ctx.slipway, ctx.baseline)}
            for deployment in names:
                ctx.cluster.update_template(namespace, deployment, {REVISION_ANNOTATION: revision})
            updated = time.time()
            with ThreadPoolExecutor(2) as pool:
                mine = pool.submit(run_playbook, "bench/playbooks/rollout_wait.yml", {
                    **_wait_vars(namespace, names, str(ctx.slipway.kubeconfig)),
                    **({"bench_interpreter": str(BENCH / "bin" / "maxrss-python"),
                        "bench_maxrss_file": str(maxrss)} if memory else {})}, CAP, "Wait for the rollouts")
                other = pool.submit(run_playbook, "bench/playbooks/k8s_wait.yml",
                                    _wait_vars(namespace, names, str(ctx.baseline.kubeconfig)), CAP,
                                    "Update and wait for the rollouts")
                results: list[Run] = [mine.result(), other.result()]
            completed = max(done.values()) if len(done) == count else None
        ours_requests.add(ctx.slipway.requests(ctx.cluster) - counted[ctx.slipway.name])
        theirs_requests.add(ctx.baseline.requests(ctx.cluster) - counted[ctx.baseline.name])
        for run, total, late in zip(results, (ours, theirs), (ours_late, theirs_late)):
            ok = run.succeeded and run.returned is not None
            total.add(run.returned - updated if ok else None)
            late.add(run.returned - completed if ok and completed else None)
            if not ok:
                total.notes.append(f"did not complete: {run.message[:300]}")
        if memory and maxrss.exists():
            rss.add(max(int(line) for line in maxrss.read_text().split()) / 1024)
    figures = [site, site_requests, rerun, rerun_requests, ours, theirs, ours_late, theirs_late, ours_requests, theirs_requests]
    return figures + ([rss] if memory else [])


def _wait_vars(namespace: str, names: list[str], kubeconfig: str) -> dict[str, Any]:
    return {"bench_namespace": namespace, "bench_targets": names, "bench_kubeconfig": kubeconfig,
            "bench_timeout": int(CAP)}


def _check_linear(figures: list[Figure], counts: list[int]) -> None:
    """The issue's target: requests grow linearly with the number of objects, small constant.
    Judged on rollout_wait's requests per Deployment, smallest N against largest N."""
    per_object = {}
    for figure in figures:
        if figure.what == "rollout_wait: API requests" and figure.median is not None:
            count = int(figure.measurement.rsplit(" ", 1)[1])
            per_object[count] = figure.median / count
    if len(per_object) < 2:
        return
    small, large = min(per_object), max(per_object)
    for figure in figures:
        if figure.what == "rollout_wait: API requests" and figure.measurement.endswith(f" {large}"):
            figure.target = "per Deployment at most as at the smallest N (linear or better)"
            figure.check = lambda *_: per_object[large] <= per_object[small] * 1.1
            figure.notes.append("requests per Deployment by N: "
                                + ", ".join(f"{n}: {v:.2f}" for n, v in sorted(per_object.items())))
