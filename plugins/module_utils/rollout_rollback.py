"""Which revision to go back to after a failed rollout, and the patch that restores it (pure).

The same choice `kubectl rollout undo` makes: the given revision, or without one the newest
revision older than the current one. A Deployment gets the pod template of that revision's ReplicaSet; a
StatefulSet or DaemonSet gets the ControllerRevision's stored patch applied as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ansible.module_utils.rollout_status import (
    REVISION_ANNOTATION,
    controlled_by,
    is_terminating,
    new_replicaset,
    pod_ready,
    template_without_hash,
    to_int,
)

JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


class RollbackError(Exception):
    """There is nothing to roll back to, or the kind has no revisions."""


class AlreadyAtRevision(RollbackError):
    """The revision asked for is the current one: nothing to do."""


@dataclass(frozen=True)
class RollbackPlan:
    patch: object
    content_type: str
    from_revision: int | None
    to_revision: int
    # Pods of the failed revision to delete once the controller has seen the patch.
    stuck_pods: tuple[str, ...] = ()
    # The containers' images of the current revision and of the one restored.
    from_images: tuple[str, ...] = ()
    to_images: tuple[str, ...] = ()


def _images(template) -> tuple[str, ...]:
    containers = (((template or {}).get("spec") or {}).get("containers")) or []
    return tuple(c.get("image", "") for c in containers)


def _pick(candidates: list, revision_of, current_revision, to_revision: int | None):
    """The revision to restore among `candidates`, or a RollbackError saying why there is none."""
    if to_revision:
        if to_revision == current_revision:
            raise AlreadyAtRevision(f"revision {to_revision} is the current one")
        chosen = [c for c in candidates if revision_of(c) == to_revision]
        if not chosen:
            known = sorted({revision_of(c) for c in candidates if revision_of(c)})
            raise RollbackError(f"revision {to_revision} not found (revisions kept: "
                                f"{', '.join(map(str, known)) or 'none'})")
        return chosen[0]
    older = [c for c in candidates if (revision_of(c) or 0) < (current_revision or 0)]
    if not older:
        raise RollbackError("no previous revision to roll back to")
    return max(older, key=lambda c: revision_of(c) or 0)


def _revision_of(replicaset: dict) -> int | None:
    return to_int((replicaset["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION))


def _deployment_plan(deployment: dict, replicasets: list, to_revision: int | None) -> RollbackPlan:
    if (deployment.get("spec") or {}).get("paused"):
        raise RollbackError("the deployment is paused: resume it before rolling back")
    owned = [rs for rs in replicasets if controlled_by(rs, deployment)]
    current = new_replicaset(deployment, owned)
    current_revision = _revision_of(current) if current else to_int(
        (deployment["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION))
    template = template_without_hash(deployment["spec"].get("template"))
    different = [rs for rs in owned if template_without_hash(rs["spec"].get("template")) != template]
    previous = _pick(different if not to_revision else owned, _revision_of, current_revision, to_revision)
    patch = [{"op": "replace", "path": "/spec/template",
              "value": template_without_hash(previous["spec"]["template"])}]
    return RollbackPlan(patch, JSON_PATCH, current_revision, _revision_of(previous),
                        from_images=_images(template), to_images=_images(previous["spec"]["template"]))


def _controller_revision_plan(kind: str, workload: dict, revisions: list,
                             to_revision: int | None) -> RollbackPlan:
    history = sorted((cr for cr in revisions if controlled_by(cr, workload)),
                     key=lambda cr: cr.get("revision", 0))
    if kind == "StatefulSet":
        update_revision = (workload.get("status") or {}).get("updateRevision")
        current = next((cr for cr in history if cr["metadata"]["name"] == update_revision), None)
    else:
        current = history[-1] if history else None
    current_revision = current.get("revision") if current else None
    previous = _pick(history, lambda cr: cr.get("revision"),
                     current_revision if current_revision is not None else float("inf"), to_revision)
    stored = ((previous.get("data") or {}).get("spec") or {}).get("template")
    return RollbackPlan(previous.get("data"), STRATEGIC_MERGE_PATCH, current_revision,
                        previous.get("revision"),
                        from_images=_images((workload.get("spec") or {}).get("template")),
                        to_images=_images(stored))


def _stuck_pods(kind: str, workload: dict, failed_pods: list) -> tuple[str, ...]:
    """Pods of the failed revision that would block their own rollback.

    A StatefulSet with OrderedReady pod management replaces no pod while one is not Running and
    Ready, so a pod of the broken revision stays forever: the "forced rollback" the Kubernetes
    documentation asks an operator to finish by deleting those pods.
    """
    if kind != "StatefulSet" or (workload.get("spec") or {}).get("podManagementPolicy") == "Parallel":
        return ()
    return tuple(pod["metadata"]["name"] for pod in failed_pods
                 if not pod_ready(pod) and not is_terminating(pod))


def plan_rollback(kind: str, workload: dict, replicasets: list, revisions: list,
                  failed_pods: list, to_revision: int | None = None) -> RollbackPlan:
    """`failed_pods`: the pods of the revision that failed; `to_revision`: the revision to
    restore, else the newest one older than the current one."""
    if kind == "Deployment":
        plan = _deployment_plan(workload, replicasets, to_revision)
    elif kind in ("StatefulSet", "DaemonSet"):
        plan = _controller_revision_plan(kind, workload, revisions, to_revision)
    else:
        raise RollbackError(f"a {kind} has no revisions to roll back to")
    return replace(plan, stuck_pods=_stuck_pods(kind, workload, failed_pods))
