"""The preflight's decisions: which reviews to send, how a denial reads, which versions pass."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible.module_utils.access_review import (
    PermissionSpecError,
    describe,
    expand_permissions,
    review_all,
    review_body,
    rules_review_body,
    settled_by_rules,
    summarize,
    to_review,
)
from ansible.module_utils.app_model import app_model, permissions

spec = importlib.util.spec_from_file_location(
    "preflight_filters", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "preflight.py"
)
preflight = importlib.util.module_from_spec(spec)
spec.loader.exec_module(preflight)

PERMISSIONS = [
    {"resource": "namespaces", "verbs": ["get", "create"], "cluster": True},
    {"group": "apps", "resource": "deployments", "verbs": ["create", "patch", "create"]},
    {"resource": "pods", "subresource": "log", "verbs": "get"},
]


def test_one_check_per_verb_cluster_wide_or_in_the_namespace() -> None:
    checks = expand_permissions(PERMISSIONS, "shop")
    assert [describe(check) for check in checks] == [
        "get namespaces (cluster-wide)",
        "create namespaces (cluster-wide)",
        "create deployments.apps in namespace shop",
        "patch deployments.apps in namespace shop",
        "get pods/log in namespace shop",
    ]


def test_review_body() -> None:
    deployments, namespaces = expand_permissions(PERMISSIONS, "shop")[2], expand_permissions(PERMISSIONS, "shop")[0]
    assert review_body(deployments) == {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "group": "apps", "resource": "deployments",
                                        "namespace": "shop"}}}
    assert review_body(namespaces)["spec"]["resourceAttributes"] == {"verb": "get", "group": "", "resource": "namespaces"}


def test_bad_entries_are_reported() -> None:
    with pytest.raises(PermissionSpecError, match="needs a resource"):
        expand_permissions([{"verbs": ["get"]}], "shop")
    with pytest.raises(PermissionSpecError, match="needs verbs"):
        expand_permissions([{"resource": "pods"}], "shop")
    with pytest.raises(PermissionSpecError, match="give a namespace"):
        expand_permissions([{"resource": "pods", "verbs": ["list"]}], "")


def test_summary_lists_only_the_denied() -> None:
    checks = expand_permissions(PERMISSIONS, "shop")
    statuses = [{"allowed": True}, {"allowed": True}, {"allowed": False, "reason": ""},
                {"allowed": True, "reason": 'RBAC: allowed by RoleBinding "deploy/shop"'}, {"allowed": False}]
    summary = summarize(checks, statuses)
    assert summary["missing"] == ["cannot create deployments.apps in namespace shop", "cannot get pods/log in namespace shop"]
    assert summary["reviews"][3]["reason"].startswith("RBAC")


@pytest.mark.parametrize(("version", "problem"), [
    ("v1.36.3", ""),
    ("v1.33.0", ""),
    ("v1.34.2-gke.1200", ""),
    ("v1.32.9", "older than 1.33"),
    ("v1.37.0", "newer than 1.36"),
])
def test_supported_versions(version: str, problem: str) -> None:
    found = preflight.kube_version_problem(version, "1.33", "1.36")
    assert (problem in found) if problem else found == ""


def test_no_upper_bound_and_bad_versions() -> None:
    assert preflight.kube_version_problem("v1.40.0", "1.33", "") == ""
    with pytest.raises(AnsibleFilterError):
        preflight.kube_version_problem("latest", "1.33")


CHECKS = expand_permissions([
    {"resource": "namespaces", "verbs": ["get"], "cluster": True},
    {"group": "apps", "resource": "deployments", "verbs": ["create"]},
    {"group": "apps", "resource": "deployments", "subresource": "scale", "verbs": ["patch"]},
    {"resource": "pods", "subresource": "log", "verbs": ["get"]},
    {"resource": "secrets", "name": "mongodb", "verbs": ["get"]},
], "shop")


def settled(*rules: dict) -> list[bool | None]:
    return [None if status is None else status["allowed"]
            for status in settled_by_rules(CHECKS, {"resourceRules": list(rules)})]


def test_the_rules_review_settles_only_the_namespaced_checks_its_rules_grant() -> None:
    everything = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    # A cluster-wide check always goes to an access review: a namespace's rules cannot settle it.
    assert settled(everything) == [None, True, True, True, True]
    assert settled() == [None] * 5
    assert settled_by_rules(CHECKS, {}) == [None] * 5


@pytest.mark.parametrize(("rule", "expected"), [
    ({"verbs": ["create"], "apiGroups": ["apps"], "resources": ["deployments"]}, [None, True, None, None, None]),
    # A resource does not grant its subresources; "*/scale" grants scale of any resource.
    ({"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments"]}, [None] * 5),
    ({"verbs": ["patch"], "apiGroups": ["*"], "resources": ["*/scale"]}, [None, None, True, None, None]),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, [None, None, None, True, None]),
    # The wrong group, or a verb not listed, grants nothing.
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods/log"]}, [None] * 5),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"]}, [None] * 5),
    # resourceNames restricts the rule to the objects it names.
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mongodb"]},
     [None, None, None, None, True]),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["other"]}, [None] * 5),
])
def test_rules_match_as_rbac_matches_them(rule: dict, expected: list) -> None:
    assert settled(rule) == expected


def test_rules_review_body() -> None:
    assert rules_review_body("shop") == {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                                         "spec": {"namespace": "shop"}}


# OpenShift's list, as app_model.permissions makes it: one entry makes the namespace.
REQUEST = {"group": "project.openshift.io", "resource": "projectrequests", "verbs": ["create"], "cluster": True,
           "creates_namespace": True}
ON_OPENSHIFT = [{"resource": "namespaces", "name": "shop", "verbs": ["get"]},
                {"group": "apps", "resource": "deployments", "verbs": ["create"]},
                {"resource": "nodes", "verbs": ["list"], "cluster": True}, REQUEST]


def test_a_namespace_that_is_there_is_reviewed_without_what_would_request_it() -> None:
    assert to_review(ON_OPENSHIFT, "shop", True) == (ON_OPENSHIFT[:3], "")


def test_a_namespace_not_there_is_to_be_requested_and_its_own_permissions_wait_for_it() -> None:
    kept, note = to_review(ON_OPENSHIFT, "shop", False)
    assert kept == ON_OPENSHIFT[2:]
    assert note == ("namespace shop does not exist (or the identity may not see it): it will be requested (create "
                    "projectrequests.project.openshift.io (cluster-wide)); the namespaced permissions come with the "
                    "project's admin role and are checked once it is made")


def test_without_an_entry_that_makes_the_namespace_everything_is_reviewed() -> None:
    assert to_review(PERMISSIONS, "shop", None) == (PERMISSIONS, "")
    assert to_review(PERMISSIONS, "shop", False) == (PERMISSIONS, "")


def test_review_all_sends_one_rules_review_then_access_reviews_for_the_rest() -> None:
    checks = expand_permissions(ON_OPENSHIFT[:3], "shop")
    sent = []

    def send(body: dict) -> dict:
        sent.append(body)
        if body["kind"] == "SelfSubjectRulesReview":
            return {"resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["namespaces"]}]}
        return {"allowed": body["spec"]["resourceAttributes"]["resource"] == "nodes"}

    statuses = review_all(checks, "shop", send)
    assert [body["kind"] for body in sent] == ["SelfSubjectRulesReview", "SelfSubjectAccessReview",
                                               "SelfSubjectAccessReview"]
    assert summarize(checks, statuses)["missing"] == ["cannot create deployments.apps in namespace shop"]


PROJECT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "project"


def test_a_projects_admin_role_grants_every_namespaced_permission_of_the_deploy_and_nothing_before_it() -> None:
    """On the sandbox's rules reviews of a requester (recorded, tests/unit/fixtures/project/):
    before its admin binding, and after it in the project it requested."""
    model = app_model({"name": "shop", "namespace": "shop", "platform": "openshift",
                       "mongodb": {"enabled": False}, "redis": {"enabled": False},
                       "components": [{"name": "web", "image": "web:1", "port": 8080, "ingress_host": "web"}]})
    inside = expand_permissions([entry for entry in permissions(model) if not entry.get("cluster")], "shop")
    assert {check["resource"] for check in inside} >= {"routes", "deployments", "namespaces", "pods"}
    admin = json.loads((PROJECT_FIXTURES / "rules_review_project_admin.json").read_text())
    before = json.loads((PROJECT_FIXTURES / "rules_review_before_the_binding.json").read_text())
    assert [status and status["allowed"] for status in settled_by_rules(inside, admin)] == [True] * len(inside)
    assert settled_by_rules(inside, before) == [None] * len(inside)
