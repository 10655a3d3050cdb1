"""3. No-op re-run: site.yml on an app that is already deployed, against a plain script that
applies the same manifests with `kubectl apply -f` and waits with `kubectl rollout status`.

The demo app (3 Deployments, 2 StatefulSets, a Job, Services, Ingress, HPA) is deployed once by
site.yml. Its manifests are then read back from the API server - exactly what site.yml's
templates rendered and applied, with the fields the server fills in (status, uid,
resourceVersion, managedFields...) removed - and the script is run once unmeasured so its own
first apply (which adds kubectl's last-applied annotation) is not counted. The two then
alternate. site.yml runs whole (provision, preflight, build, deploy), as a user re-runs it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import yaml

from .context import Context
from .kube import Identity
from .stats import Figure
from .waiters import REPO, Run, run_command, run_playbook

NAMESPACE = "bench-noop"
CAP = 900.0
SERVER_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"}
KINDS = [("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("v1", "Service"),
         ("networking.k8s.io/v1", "Ingress"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
         ("batch/v1", "Job")]


def measure(ctx: Context) -> list[Figure]:
    name = "3 no-op"
    script = "kubectl apply -f + rollout status script"
    site = Figure(name, "site.yml re-run, whole playbook", "s", baseline_of=script, target="<= 2x the script",
                  check=lambda f, b: f.median is not None and b is not None and b.median is not None
                  and f.median <= 2 * b.median)
    kubectl = Figure(name, f"{script}", "s")
    deploy_play = Figure(name, "site.yml re-run, of which the build+deploy play", "s", baseline_of=script)
    site_requests = Figure(name, "site.yml re-run: API requests", "requests", baseline_of="kubectl script: API")
    kubectl_requests = Figure(name, "kubectl script: API requests", "requests")
    ctx.cluster.delete_namespace(NAMESPACE)
    try:
        first = _site(ctx)
        if not first.succeeded:
            raise RuntimeError(f"site.yml could not deploy {NAMESPACE}: {first.message}")
        manifests, workloads = _manifests(ctx)
        path = ctx.workdir / "noop-manifests.yaml"
        path.write_text(yaml.safe_dump_all(manifests))
        argv = [str(REPO / "bench" / "kubectl-deploy.sh"), str(path), NAMESPACE, *workloads]
        warm_up = run_command(argv, CAP, ctx.baseline.kubeconfig)
        if not warm_up.succeeded:
            raise RuntimeError(f"the kubectl script failed: {warm_up.message}")
        changed: list[int] = []
        slowest: dict[str, list[float]] = {}
        changed_tasks: set[str] = set()
        for _ in range(ctx.runs):
            run, requests = _counted(ctx, ctx.slipway, lambda: _site(ctx))
            site.add(run.process_exit - run.started if run.succeeded else None)
            if not run.succeeded:
                site.notes.append(f"run {len(site.samples)} failed: {run.message[:300]}")
            deploy_play.add(run.extra.get("plays", {}).get("Build the app's images and deploy it"))
            site_requests.add(requests)
            changed.append(run.extra.get("stats", {}).get("changed", -1))
            for task, seconds, task_changed in run.extra.get("tasks", []):
                slowest.setdefault(task, []).append(seconds)
                if task_changed:
                    changed_tasks.add(task)
            run, requests = _counted(ctx, ctx.baseline, lambda: run_command(argv, CAP, ctx.baseline.kubeconfig))
            kubectl.add(run.process_exit - run.started if run.succeeded else None)
            if not run.succeeded:
                kubectl.notes.append(f"run {len(kubectl.samples)} failed: {run.message[:300]}")
            kubectl_requests.add(requests)
        site.notes.append(f"changed= per re-run: {changed} (0: a true no-op); changed: {sorted(changed_tasks)}")
        top = sorted(slowest.items(), key=lambda item: -max(item[1]))[:8]
        site.notes.append("slowest tasks (max s): " + "; ".join(f"{task} {max(t):.1f}" for task, t in top))
        site.notes.append(f"{len(manifests)} objects, workloads waited for: {', '.join(workloads)}")
    finally:
        ctx.cluster.delete_namespace(NAMESPACE)
    return [site, deploy_play, kubectl, site_requests, kubectl_requests]


def _site(ctx: Context) -> Run:
    return run_playbook("site.yml", {
        "slipway_app_namespace": NAMESPACE, "slipway_app_name": NAMESPACE,
        "slipway_kubeconfig": str(ctx.slipway.kubeconfig), "slipway_kube_context": ctx.slipway.name,
    }, CAP, "Show the deployment")


def _counted(ctx: Context, identity: Identity, action: Any) -> tuple[Run, int]:
    """Run `action` and count the API requests `identity` made meanwhile."""
    before = identity.requests(ctx.cluster)
    run = action()
    return run, identity.requests(ctx.cluster) - before


def _manifests(ctx: Context) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects site.yml applied, as manifests, and the workloads among them."""
    selector = f"app.kubernetes.io/part-of={NAMESPACE},app.kubernetes.io/managed-by=slipway"
    objects = [ctx.cluster.core.read_namespace(NAMESPACE),
               ctx.cluster.core.read_namespaced_secret("mongodb", NAMESPACE)]
    manifests = [_manifest(ctx, obj, "v1", kind) for obj, kind in zip(objects, ("Namespace", "Secret"))]
    workloads = []
    for api_version, kind in KINDS:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        plural = kind.lower() + ("es" if kind.endswith("s") else "s")
        listed = json.loads(ctx.cluster.get_raw(f"{path}/namespaces/{NAMESPACE}/{plural}?labelSelector={quote(selector)}"))
        for item in listed["items"]:
            manifests.append(_clean(item, api_version, kind))
            if kind in ("Deployment", "StatefulSet", "Job"):
                workloads.append(f"{kind.lower()}/{item['metadata']['name']}")
    return manifests, workloads


def _manifest(ctx: Context, obj: Any, api_version: str, kind: str) -> dict[str, Any]:
    return _clean(ctx.cluster.api.sanitize_for_serialization(obj), api_version, kind)


def _clean(item: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A manifest as a user would keep it: no status, no server-assigned metadata."""
    metadata = item["metadata"]
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    kept = {"name": metadata["name"], **({"namespace": metadata["namespace"]} if "namespace" in metadata else {}),
            **({"labels": metadata["labels"]} if metadata.get("labels") else {}),
            **({"annotations": annotations} if annotations else {})}
    body = {k: v for k, v in item.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    return {"apiVersion": api_version, "kind": kind, "metadata": kept, **body}
