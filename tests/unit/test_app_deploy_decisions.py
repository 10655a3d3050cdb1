"""The deploy step's pure decisions (plugins/module_utils/app_deploy.py), on objects as the API
server returns them: what a dry run says changes, what is pruned, what a Secret shows."""

from __future__ import annotations

import copy

import pytest

from ansible.module_utils import app_deploy
from ansible.module_utils.app_deploy import ref, teardown_plan
from ansible.module_utils.app_model import app_model

LIVE = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "backend", "namespace": "shop", "uid": "u-1", "resourceVersion": "41", "generation": 3,
                 "creationTimestamp": "2026-12-01T10:00:00Z", "labels": {"app.kubernetes.io/name": "backend"},
                 "annotations": {"deployment.kubernetes.io/revision": "3"},
                 "managedFields": [{"manager": "slipway", "time": "2026-12-01T10:00:00Z"}]},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "backend", "image": "b:1"}]}}},
    "status": {"readyReplicas": 2},
}


def test_a_dry_run_that_only_restamps_the_object_is_no_change() -> None:
    dry_run = copy.deepcopy(LIVE)
    dry_run["metadata"]["managedFields"][0]["time"] = "2026-12-01T11:00:00Z"
    dry_run["metadata"]["resourceVersion"] = "42"
    dry_run["status"] = {"readyReplicas": 1}
    assert app_deploy.change_of(LIVE, dry_run) is None


def test_a_new_or_altered_object_is_a_change() -> None:
    altered = copy.deepcopy(LIVE)
    altered["spec"]["template"]["spec"]["containers"][0]["image"] = "b:2"
    altered["metadata"]["generation"] = 4
    assert app_deploy.change_of(LIVE, altered) == "changed"
    assert app_deploy.change_of(None, LIVE) == "created"


def test_an_annotation_of_the_users_own_is_content() -> None:
    annotated = copy.deepcopy(LIVE)
    annotated["metadata"]["annotations"]["team"] = "shop"
    assert app_deploy.change_of(LIVE, annotated) == "changed"


def test_pruning_keeps_what_is_described_and_never_other_kinds() -> None:
    live = [{"kind": kind, "metadata": {"name": name}} for kind, name in [
        ("Deployment", "backend"), ("Deployment", "old"), ("Job", "seed-1"), ("Job", "seed-0"),
        ("Secret", "mongodb"), ("PersistentVolumeClaim", "data-mongodb-0")]]
    expected = {"Deployment": ["backend"], "Job": ["seed-1"]}
    assert [app_deploy.ref(o) for o in app_deploy.prunable(live, expected)] == ["Deployment/old", "Job/seed-0"]


def test_a_secret_shows_its_keys_never_its_values() -> None:
    secret = {"kind": "Secret", "metadata": {"name": "mongodb"}, "data": {"password.txt": "c2VjcmV0"}}
    assert app_deploy.redacted(secret)["data"] == {"password.txt": "<hidden>"}
    assert secret["data"]["password.txt"] == "c2VjcmV0"
    assert app_deploy.redacted(LIVE) is LIVE


MODEL = app_model({"name": "shop", "namespace": "shop", "mongodb": {"image": "mongo"}, "redis": {"enabled": False},
                   "components": [{"name": "web", "image": "w:1", "port": 80}, {"name": "api", "image": "a:1"}],
                   "jobs": [{"name": "seed", "image_of": "web"}], "secrets": {"shop-keys": {"key": "k"}},
                   "registry_pull_secret": "shop-pull"})


@pytest.mark.parametrize(("kind", "name", "variable"), [
    ("Deployment", "api", "slipway_app_components[1] (api)"),
    ("Service", "web", "slipway_app_components[0] (web)"),
    ("StatefulSet", "mongodb", "slipway_app_mongodb"),
    ("Job", "seed-0123456789", "slipway_app_jobs[0] (seed)"),
    ("Namespace", "shop", "slipway_app_namespace"),
    ("Ingress", "shop", "slipway_app_components[*].ingress_host"),
    ("Secret", "mongodb", "slipway_app_mongodb"),
    ("Secret", "shop-keys", "slipway_app_secrets.shop-keys"),
    ("Secret", "shop-pull", "slipway_app_registry_pull_secret"),
])
def test_a_refusal_names_the_variable_of_the_object(kind: str, name: str, variable: str) -> None:
    assert app_deploy.origin(MODEL, {"kind": kind, "metadata": {"name": name}}).startswith(variable)


def test_pod_security_warnings_are_told_from_others() -> None:
    warnings = ['would violate PodSecurity "restricted:latest": runAsNonRoot != true',
                "spec.template.spec.containers[0].env[1]: hides previous definition"]
    assert app_deploy.pod_security_violations(warnings) == warnings[:1]


def test_workload_summary() -> None:
    assert app_deploy.workload_summary(LIVE) == "deployment/backend: 2/2 ready, b:1"


def test_the_pods_whose_pull_failed_are_told_from_the_others() -> None:
    def pod(name: str, waiting: str | None, init: bool = False) -> dict:
        state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
        return {"metadata": {"name": name},
                "status": {"initContainerStatuses" if init else "containerStatuses": [{"name": "c", "state": state}]}}

    pods = [pod("pulling-failed", "ErrImagePull"), pod("backing-off", "ImagePullBackOff", init=True),
            pod("running", None), pod("crashing", "CrashLoopBackOff"), {"metadata": {"name": "new"}}]
    assert app_deploy.pull_failed_pods(pods) == ["pulling-failed", "backing-off"]


def _obj(kind: str, name: str, terminating: bool = False) -> dict:
    metadata = {"name": name, "uid": f"{kind}-{name}"}
    if terminating:
        metadata["deletionTimestamp"] = "2026-12-01T21:00:00Z"
    return {"kind": kind, "metadata": metadata}


TORN_DOWN = [_obj("Job", "seed"), _obj("Deployment", "backend"), _obj("StatefulSet", "mongodb"),
             _obj("Service", "old", terminating=True), _obj("Secret", "mongodb"),
             _obj("PersistentVolumeClaim", "data-mongodb-0")]


def test_a_teardown_deletes_the_workloads_in_order_and_keeps_the_data_and_secrets() -> None:
    plan = teardown_plan(TORN_DOWN, purge=False)
    assert [ref(o) for o in plan.delete] == ["Job/seed", "Deployment/backend", "StatefulSet/mongodb"]
    assert [ref(o) for o in plan.kept] == ["Secret/mongodb", "PersistentVolumeClaim/data-mongodb-0"]
    assert [ref(o) for o in plan.terminating] == ["Service/old"]


def test_a_purge_deletes_the_data_and_secrets_too() -> None:
    plan = teardown_plan(TORN_DOWN, purge=True)
    assert [ref(o) for o in plan.delete] == ["Job/seed", "Deployment/backend", "StatefulSet/mongodb",
                                             "Secret/mongodb", "PersistentVolumeClaim/data-mongodb-0"]
    assert plan.kept == []


def test_a_teardown_of_nothing_deletes_nothing() -> None:
    assert teardown_plan([], purge=True) == ([], [], [])


def test_an_openshift_project_the_identity_can_read_is_kept() -> None:
    assert app_deploy.project_step("shop", visible=True, may_request=False) == app_deploy.KEEP


def test_a_project_the_identity_cannot_read_is_requested_when_it_may() -> None:
    assert app_deploy.project_step("shop", visible=False, may_request=True) == app_deploy.REQUEST


def test_a_project_neither_readable_nor_requestable_says_what_to_grant() -> None:
    with pytest.raises(app_deploy.ProjectError) as refused:
        app_deploy.project_step("shop", visible=False, may_request=False)
    message = str(refused.value)
    assert message.startswith("namespace shop (slipway_app_namespace) does not exist or this identity may not read it")
    assert "projectrequests.project.openshift.io" in message and "oc new-project shop" in message
    assert "slipway_app_namespace" in app_deploy.project_taken("shop")
