"""The sandbox's stand-in for OpenShift's ProjectRequest API: the namespace and the admin binding a
request gets, whose namespace may be handed over, and the reconciler's actions against a stand-in API."""

from __future__ import annotations

import sys
from pathlib import Path

from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sandbox"))
from slipway_sandbox import openshift, projects  # noqa: E402

REQUESTER = "system:serviceaccount:ci:slipway-deployer"


def request(name: str = "shop", requester: str = REQUESTER, **said: str) -> dict:
    annotations = {openshift.REQUESTER: requester} if requester else {}
    return {"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest",
            "metadata": {"name": name, "annotations": annotations}, **said}


def namespace(name: str, uid_range: str = "", requester: str = "") -> dict:
    annotations = {**({openshift.UID_RANGE: uid_range} if uid_range else {}),
                   **({openshift.REQUESTER: requester} if requester else {})}
    return {"metadata": {"name": name, "annotations": annotations}}


def test_each_project_gets_the_lowest_uid_block_no_namespace_has() -> None:
    assert openshift.free_uid_range([]) == 1000000000
    taken = [namespace("a", "1000000000/10000"), namespace("b", "1000020000/10000"), namespace("c")]
    assert openshift.free_uid_range(taken) == 1000010000


def test_the_namespace_carries_the_shape_the_range_and_what_the_request_says() -> None:
    made = openshift.project_namespace(request(displayName="Shop", description="The shop"), 1000010000)
    assert made["metadata"]["name"] == "shop"
    assert made["metadata"]["labels"] == {openshift.SCC_LABEL: "restricted-v2",
                                          "pod-security.kubernetes.io/enforce": "restricted"}
    annotations = made["metadata"]["annotations"]
    assert annotations[openshift.UID_RANGE] == annotations[openshift.SUPPLEMENTAL_GROUPS] == "1000010000/10000"
    assert (annotations[openshift.REQUESTER], annotations[openshift.DISPLAY_NAME],
            annotations[openshift.DESCRIPTION]) == (REQUESTER, "Shop", "The shop")
    assert openshift.DISPLAY_NAME not in openshift.project_namespace(request(), 1000010000)["metadata"]["annotations"]


def test_the_requester_is_bound_to_admin_by_its_user_name() -> None:
    binding = openshift.admin_binding(request())
    assert binding["metadata"] == {"name": "admin", "namespace": "shop"}
    assert binding["roleRef"]["name"] == "admin"
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": REQUESTER}]


def test_only_a_missing_namespace_or_one_made_for_the_same_requester_is_handed_over() -> None:
    assert projects.handed_over(request(), {}) is True
    assert projects.handed_over(request(), {"shop": namespace("shop", requester=REQUESTER)}) is True
    assert projects.handed_over(request(), {"shop": namespace("shop", requester="someone")}) is False
    assert projects.handed_over(request(), {"shop": namespace("shop")}) is False
    assert projects.handed_over(request(requester=""), {}) is None


class StandIn:
    """The API calls the reconciler makes, recorded; `existing` namespaces answer 409."""

    def __init__(self, existing: set[str] = frozenset()) -> None:
        self.calls: list[tuple] = []
        self.existing = set(existing)

    def create_namespace(self, body: dict) -> None:
        if body["metadata"]["name"] in self.existing:
            raise ApiException(status=409, reason="AlreadyExists")
        self.calls.append(("namespace", body["metadata"]["name"], body["metadata"]["annotations"][openshift.UID_RANGE]))

    def create_namespaced_role_binding(self, name: str, body: dict) -> None:
        self.calls.append(("binding", name, body["subjects"][0]["name"]))

    def delete_cluster_custom_object(self, group: str, version: str, plural: str, name: str) -> None:
        self.calls.append(("consumed", name))


def reconciled(requests: list[dict], namespaces: list[dict], api: StandIn) -> bool:
    return projects.Reconciler(api, api, api).reconcile(requests, namespaces)


def test_requests_in_one_pass_get_namespaces_of_their_own_ranges_then_are_consumed() -> None:
    api = StandIn()
    assert reconciled([request("a"), request("b")], [namespace("x", "1000000000/10000")], api)
    assert api.calls == [("namespace", "a", "1000010000/10000"), ("binding", "a", REQUESTER), ("consumed", "a"),
                         ("namespace", "b", "1000020000/10000"), ("binding", "b", REQUESTER), ("consumed", "b")]


def test_somebody_elses_namespace_is_not_bound_and_a_namespace_made_meanwhile_waits_for_the_next_pass() -> None:
    api = StandIn(existing={"new"})
    assert reconciled([request("taken"), request("new")], [namespace("taken", requester="someone")], api)
    assert api.calls == [("consumed", "taken")]
