# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of the deploy step (plugins/modules/app_apply.py): what a dry run says will
change, what the description no longer calls for, which variable an object comes from, and what
of a Secret may be shown; and of the teardown (plugins/modules/app_teardown.py): what goes."""

from __future__ import annotations

import copy
from typing import NamedTuple

# Written by the server, not by slipway: a difference here is no change of content.
SERVER_FIELDS = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
POD_SECURITY_WARNING = "would violate PodSecurity"
REDACTED = "<hidden>"


def content(obj: dict | None) -> dict | None:
    """What an object says, without what the server keeps for itself (status included)."""
    if obj is None:
        return None
    kept = {key: copy.deepcopy(value) for key, value in obj.items() if key != "status"}
    metadata = kept.get("metadata") or {}
    for field in SERVER_FIELDS:
        metadata.pop(field, None)
    annotations = metadata.get("annotations") or {}
    # The Deployment controller's revision counter moves with every template change it makes.
    annotations.pop("deployment.kubernetes.io/revision", None)
    if not annotations:
        metadata.pop("annotations", None)
    return kept


def change_of(live: dict | None, dry_run: dict) -> str | None:
    """`created` or `changed` when applying would create or alter the object, else None."""
    if live is None:
        return "created"
    return None if content(live) == content(dry_run) else "changed"


def ref(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def redacted(obj: dict | None) -> dict | None:
    """A Secret with its values hidden (keys kept, so a diff still says which one moved)."""
    if obj is None or obj.get("kind") != "Secret":
        return obj
    hidden = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        if field in hidden:
            hidden[field] = {key: REDACTED for key in hidden[field]}
    return hidden


def prunable(live: list[dict], expected: dict[str, list[str]]) -> list[dict]:
    """The managed objects the description no longer calls for; kinds not in `expected` (the
    Secrets and claims among them) are never pruned."""
    return [obj for obj in live if obj["kind"] in expected and obj["metadata"]["name"] not in expected[obj["kind"]]]


def origin(model: dict, obj: dict) -> str:
    """The variable an object is built from, for an error the API server gives about it."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind == "Namespace":
        return "slipway_app_namespace"
    if kind == "Ingress":
        return "slipway_app_components[*].ingress_host, slipway_app_ingress_domain, slipway_app_ingress_class"
    if kind == "Secret":
        if name == model.get("registry_pull_secret"):
            return "slipway_app_registry_pull_secret"
        return f"slipway_app_secrets.{name}" if name in model.get("secrets", {}) else "slipway_app_mongodb"
    for index, component in enumerate(model["components"]):
        if component["name"] == name and kind in ("Deployment", "Service", "HorizontalPodAutoscaler"):
            return f"slipway_app_components[{index}] ({name})"
    for store in model["datastores"]:
        if store["name"] == name:
            return f"slipway_app_{name}"
    for index, job in enumerate(model["jobs"]):
        if kind == "Job" and name.rsplit("-", 1)[0] == job["name"]:
            return f"slipway_app_jobs[{index}] ({job['name']})"
    return "the app description"


def pod_security_violations(warnings: list[str]) -> list[str]:
    """The Pod Security warnings a dry run of a workload returns: its pods would be refused."""
    return [warning for warning in warnings if POD_SECURITY_WARNING in warning]


def workload_summary(obj: dict) -> str:
    """`deployment/backend: 2/2 ready, slipway/demo-backend:1a2b` for the run's closing summary."""
    status = obj.get("status") or {}
    desired = (obj.get("spec") or {}).get("replicas", 1)
    images = ", ".join(c["image"] for c in obj["spec"]["template"]["spec"]["containers"])
    return f"{obj['kind'].lower()}/{obj['metadata']['name']}: {status.get('readyReplicas', 0)}/{desired} ready, {images}"


PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff")


def pull_failed_pods(pods: list[dict]) -> list[str]:
    """The pods a container of which waits on a failed image pull: after their pull Secret
    changed, they would retry only when the kubelet's back-off (up to 5 minutes) runs out."""
    failed = []
    for pod in pods:
        status = pod.get("status") or {}
        statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
        if any(((s.get("state") or {}).get("waiting") or {}).get("reason") in PULL_FAILURES for s in statuses):
            failed.append(pod["metadata"]["name"])
    return failed


# The data and the credentials: a teardown keeps them unless asked to purge.
KEPT_ON_TEARDOWN = ("PersistentVolumeClaim", "Secret")


class TeardownPlan(NamedTuple):
    delete: list[dict]
    kept: list[dict]
    # Being deleted already (an earlier run that did not wait to the end): waited for, not counted.
    terminating: list[dict]


def teardown_plan(found: list[dict], purge: bool) -> TeardownPlan:
    """What a teardown deletes, keeps and waits for, each in the order found (the model's
    teardown order, against the apply order)."""
    going = [obj for obj in found if (obj.get("metadata") or {}).get("deletionTimestamp")]
    alive = [obj for obj in found if obj not in going]
    kept = [] if purge else [obj for obj in alive if obj["kind"] in KEPT_ON_TEARDOWN]
    return TeardownPlan([obj for obj in alive if obj not in kept], kept, going)


# What the deploy does with an OpenShift project's namespace.
KEEP, REQUEST = "keep", "request"


class ProjectError(ValueError):
    """The namespace can be neither used nor requested: the text says what to grant."""


def project_step(namespace: str, visible: bool, may_request: bool) -> str:
    """KEEP a namespace the identity can read: a project is its owner's, not slipway's to make
    or label. REQUEST one it cannot read (absent, or not its own: only the request can tell) when
    it may create projectrequests; the project then made is the requester's. Else ProjectError."""
    if visible:
        return KEEP
    if may_request:
        return REQUEST
    raise ProjectError(
        f"namespace {namespace} (slipway_app_namespace) does not exist or this identity may not read it, and it may "
        "not create projectrequests.project.openshift.io to request it: grant that (the self-provisioner ClusterRole, "
        "or playbooks/deployer-rbac.yml with deployer_rbac_projects: true), or create the project first "
        f"(oc new-project {namespace}) and make this identity its admin")


def project_taken(namespace: str) -> str:
    """Why a request for a namespace that exists, unseen by the identity, was refused."""
    return (f"namespace {namespace} (slipway_app_namespace) exists but this identity may not read it: ask its admin "
            f"to grant it (oc adm policy add-role-to-user admin IDENTITY -n {namespace}), or choose another name")
