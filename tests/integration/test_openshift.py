"""site.yml with slipway_app_platform=openshift on the sandbox's OpenShift shape
(slipway_sandbox/openshift.py): the Route API from a CRD of the Route v1 schema, a namespace with
a UID range as OpenShift annotates a project, and restricted-v2's pod rules as admission
policies (the range's first UID given to a pod that names none, any other refused). It checks
our manifests against those rules on real pods; it is not OpenShift (no router, no SCC objects).

The tests share one deployment and run in the order written.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from kubewait import wait_for
from playbook import run_playbook
from realnode import node_image, restricted_pod
from slipway_sandbox import openshift

FIRST_UID = 1000660000
PLATFORM_PLAYBOOK = "tests/integration/playbooks/platform.yml"


@pytest.fixture(scope="module")
def project(core: client.CoreV1Api) -> dict:
    """A namespace shaped as an OpenShift project (made first, as `oc new-project` would), the
    demo app deployed in it."""
    name = f"os-{uuid.uuid4().hex[:6]}"
    labels, annotations = openshift.namespace_annotations(FIRST_UID)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, annotations=annotations,
        labels={**labels, "pod-security.kubernetes.io/enforce": "restricted"})))
    variables = {"slipway_app_namespace": name, "slipway_app_name": name, "slipway_app_platform": "openshift",
                 "slipway_app_ingress_domain": f"{name}.apps.example.com"}
    first = run_playbook("site.yml", variables)
    yield {"name": name, "vars": variables, "first": first}
    core.delete_namespace(name)


def routes(api_client: client.ApiClient, namespace: str) -> dict[str, dict]:
    found = client.CustomObjectsApi(api_client).list_namespaced_custom_object(
        "route.openshift.io", "v1", namespace, "routes")["items"]
    return {r["metadata"]["name"]: r["spec"] for r in found}


def test_the_app_is_deployed_with_routes_and_no_ingress(project: dict, api_client: client.ApiClient) -> None:
    first = project["first"]
    assert first.returncode == 0, first.failures()
    domain = project["vars"]["slipway_app_ingress_domain"]
    assert routes(api_client, project["name"]) == {
        name: {"host": f"{name}.{domain}", "to": {"kind": "Service", "name": name, "weight": 100},
               "port": {"targetPort": "http"}, "wildcardPolicy": "None",
               "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}}
        for name in ("backend", "frontend")}
    assert not client.NetworkingV1Api(api_client).list_namespaced_ingress(project["name"]).items


def test_no_pod_names_a_uid_and_each_runs_as_the_ranges(project: dict, apps: client.AppsV1Api,
                                                       core: client.CoreV1Api) -> None:
    namespace = project["name"]
    templates = [d.spec.template.spec for d in apps.list_namespaced_deployment(namespace).items] + \
        [s.spec.template.spec for s in apps.list_namespaced_stateful_set(namespace).items]
    assert len(templates) == 5
    for template in templates:
        context = template.security_context
        assert (context.run_as_user, context.run_as_group, context.fs_group) == (None, None, None)
        assert context.run_as_non_root is True
    pods = [p for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Running"]
    assert len(pods) >= 7
    # Every running pod was admitted by the policy, with the UID and fsGroup it gave.
    assert {(p.spec.security_context.run_as_user, p.spec.security_context.fs_group) for p in pods} == \
        {(FIRST_UID, FIRST_UID)}


def test_the_app_serves_as_an_arbitrary_uid(project: dict, core: client.CoreV1Api) -> None:
    frontend = next(p for p in core.list_namespaced_pod(
        project["name"], label_selector="app.kubernetes.io/name=frontend").items if p.status.phase == "Running")
    # No router here: straight to the pod (the host routes to the node's pods). The card was
    # stored by the seed Job, rendered by the worker, served by the backend: every one of them,
    # and the data stores, running as the range's UID in group 0.
    with urllib.request.urlopen(f"http://{frontend.status.pod_ip}:40002/card/helloworld", timeout=10) as answer:
        assert answer.status == 200
        page = answer.read().decode()
    assert "<h1>Hello, world!</h1>" in page and "still being rendered" not in page


def test_a_pod_with_a_fixed_uid_outside_the_range_is_refused(project: dict, core: client.CoreV1Api) -> None:
    pod = restricted_pod("fixed-uid", node_image(), ["sleep", "60"])
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(project["name"], pod)
    assert refused.value.status == 403
    assert "runAsUser 10001 is not in the namespace range 1000660000/10000" in json.loads(refused.value.body)["message"]


def test_a_second_run_changes_nothing(project: dict) -> None:
    again = run_playbook("site.yml", project["vars"])
    assert again.returncode == 0, again.failures()
    assert again.changed == 0


def test_teardown_removes_the_routes_and_keeps_the_data(project: dict, api_client: client.ApiClient,
                                                       core: client.CoreV1Api) -> None:
    torn_down = run_playbook("playbooks/teardown.yml", project["vars"])
    assert torn_down.returncode == 0, torn_down.failures()
    assert routes(api_client, project["name"]) == {}
    claims = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(project["name"]).items}
    assert "data-mongodb-0" in claims


def test_auto_finds_plain_kubernetes_beside_a_route_api_alone() -> None:
    found = run_playbook(PLATFORM_PLAYBOOK, {"slipway_app_namespace": "default"})
    assert found.returncode == 0, found.failures()
    assert found.fact("slipway_app_platform_found") == "kubernetes"


# What makes the API server OpenShift to `auto`: its security group too (an SCC CRD stands in).
SCC_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "securitycontextconstraints.security.openshift.io"},
    "spec": {"group": "security.openshift.io", "scope": "Cluster",
             "names": {"kind": "SecurityContextConstraints", "plural": "securitycontextconstraints"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


@pytest.mark.serial
def test_auto_finds_openshift_when_its_security_api_is_served_too(api_client: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api_client)
    extensions.create_custom_resource_definition(SCC_CRD)
    try:
        name = SCC_CRD["metadata"]["name"]
        wait_for(extensions.list_custom_resource_definition,
                 lambda crd: any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or []),
                 field_selector=f"metadata.name={name}")
        found = run_playbook(PLATFORM_PLAYBOOK, {"slipway_app_namespace": "default"})
        assert found.returncode == 0, found.failures()
        assert found.fact("slipway_app_platform_found") == "openshift"
    finally:
        extensions.delete_custom_resource_definition(SCC_CRD["metadata"]["name"])
