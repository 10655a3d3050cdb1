"""A deployer who may not create namespaces deploys on the sandbox's OpenShift shape: its only
grant is `projectrequests` create (playbooks/deployer-rbac.yml with deployer_rbac_projects), its
token is given as AWX gives it (K8S_AUTH_*), and site.yml requests the app's namespace as a
project (a ProjectRequest), then deploys into it as the project's admin. The ProjectRequest API
here is the sandbox's stand-in (slipway_sandbox/openshift.py and projects.py: a CRD, the requester
recorded at admission, a reconciler that makes the namespace and the admin binding); on OpenShift
the API server does that itself.

The tests share one deployment and run in the order written.
"""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from awxjob import kubernetes_credential
from deployer import DEPLOYER, grant_deployer, revoke_deployer
from playbook import run_playbook
from realnode import node_image
from slipway_sandbox import openshift



def as_identity(api_client: client.ApiClient, token: str) -> dict:
    """What AWX's "OpenShift or Kubernetes API Bearer Token" credential injects, and no kubeconfig."""
    return {**kubernetes_credential(api_client.configuration, token), "KUBECONFIG": None}


@pytest.fixture(scope="module")
def requested(api_client: client.ApiClient, core: client.CoreV1Api) -> dict:
    """A one-component app (a prebuilt image, no data stores) deployed by a deployer who may only
    request projects, into a namespace that does not exist yet."""
    project = f"proj-{uuid.uuid4().hex[:6]}"
    home = f"{project}-ci"
    web = {"name": "web", "image": node_image(), "port": 8080, "ingress_host": "web",
           "command": ["/usr/bin/python3", "-m", "http.server", "8080", "-d", "/tmp"],
           "probes": {"readiness": {"path": "/"}},
           "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}}}
    variables = {"slipway_app_namespace": project, "slipway_app_name": project, "slipway_app_platform": "openshift",
                 "slipway_app_ingress_domain": f"{project}.apps.example.com",
                 "slipway_app_project_display_name": "Projects test", "slipway_app_components": [web],
                 "slipway_app_jobs": [], "slipway_app_mongodb": {"enabled": False},
                 "slipway_app_redis": {"enabled": False}}
    token = grant_deployer(core, {**variables, "deployer_rbac_projects": True, "deployer_rbac_namespace": home},
                           home=home)
    environment = as_identity(api_client, token)
    # The sandbox inventory names its admin kubeconfig: empty, kubernetes.core uses K8S_AUTH_*.
    deployer_vars = {**variables, "slipway_kubeconfig": "", "slipway_kube_context": ""}
    first = run_playbook("site.yml", deployer_vars, environment=environment)
    yield {"project": project, "home": home, "vars": deployer_vars, "env": environment, "first": first,
           "requester": f"system:serviceaccount:{home}:{DEPLOYER}"}
    core.delete_namespace(project)
    core.delete_namespace(home)
    revoke_deployer(api_client, home)


def allowed(api_client: client.ApiClient, user: str, **attributes: str) -> bool:
    review = client.AuthorizationV1Api(api_client).create_subject_access_review(client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(user=user, resource_attributes=client.V1ResourceAttributes(**attributes))))
    return review.status.allowed


def test_the_deployer_may_request_projects_and_nothing_else_outside_them(requested: dict,
                                                                        api_client: client.ApiClient) -> None:
    rules = client.RbacAuthorizationV1Api(api_client).read_cluster_role(f"{DEPLOYER}:{requested['home']}").rules
    assert [(r.api_groups, r.resources, r.verbs) for r in rules] == [
        (["project.openshift.io"], ["projectrequests"], ["create"])]
    assert client.RbacAuthorizationV1Api(api_client).list_namespaced_role(requested["home"]).items == []
    user = requested["requester"]
    assert allowed(api_client, user, verb="create", group="project.openshift.io", resource="projectrequests")
    assert not allowed(api_client, user, verb="create", resource="namespaces")
    assert not allowed(api_client, user, verb="get", resource="namespaces", name="default")
    assert not allowed(api_client, user, verb="create", group="apps", resource="deployments",
                       namespace=f"{requested['project']}-other")


def test_the_preflight_checks_the_request_instead_of_the_projects_permissions(requested: dict) -> None:
    first = requested["first"]
    assert first.returncode == 0, first.failures()
    report = first.results("Report the cluster")[0]["msg"]
    assert f"all 1 permissions granted (namespace {requested['project']} does not exist (or the identity may not " \
           "see it): it will be requested (create projectrequests.project.openshift.io (cluster-wide))" in report


def test_the_namespace_is_requested_and_its_admin_is_the_requester(requested: dict, core: client.CoreV1Api,
                                                                  api_client: client.ApiClient) -> None:
    first, project = requested["first"], requested["project"]
    assert first.returncode == 0, first.failures()
    assert first.results("Deploy the app")[0]["changes"][0] == f"ProjectRequest/{project}"
    annotations = core.read_namespace(project).metadata.annotations
    assert annotations[openshift.REQUESTER] == requested["requester"]
    assert annotations[openshift.DISPLAY_NAME] == "Projects test"
    binding = client.RbacAuthorizationV1Api(api_client).read_namespaced_role_binding("admin", project)
    assert (binding.role_ref.kind, binding.role_ref.name) == ("ClusterRole", "admin")
    assert [(s.kind, s.name) for s in binding.subjects] == [("User", requested["requester"])]
    # Consumed, as OpenShift keeps no ProjectRequest.
    assert client.CustomObjectsApi(api_client).list_cluster_custom_object(
        "project.openshift.io", "v1", "projectrequests", field_selector=f"metadata.name={project}")["items"] == []


def test_the_app_runs_in_the_project_as_its_uids_with_its_route(requested: dict, apps: client.AppsV1Api,
                                                               core: client.CoreV1Api,
                                                               api_client: client.ApiClient) -> None:
    project = requested["project"]
    deployment = apps.read_namespaced_deployment("web", project)
    assert deployment.status.ready_replicas == 1
    first_uid = int(core.read_namespace(project).metadata.annotations[openshift.UID_RANGE].split("/")[0])
    pods = core.list_namespaced_pod(project, label_selector="app.kubernetes.io/name=web").items
    assert {p.spec.security_context.run_as_user for p in pods if p.status.phase == "Running"} == {first_uid}
    route = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        "route.openshift.io", "v1", project, "routes", "web")
    assert route["spec"]["host"] == f"web.{project}.apps.example.com"


def test_a_second_run_finds_the_project_and_changes_nothing(requested: dict) -> None:
    again = run_playbook("site.yml", requested["vars"], environment=requested["env"])
    assert again.returncode == 0, again.failures()
    assert again.changed == 0
    # The project is there now: the namespaced permissions are reviewed, projectrequests not.
    assert again.results("Report the cluster")[0]["msg"].endswith(f"in namespace {requested['project']}")


def test_an_identity_that_may_not_request_is_told_what_to_grant(requested: dict, core: client.CoreV1Api,
                                                               api_client: client.ApiClient) -> None:
    # An identity of the same home without any grant, towards another namespace not there.
    core.create_namespaced_service_account(requested["home"], client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="no-grants")))
    token = core.create_namespaced_service_account_token("no-grants", requested["home"], client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600))).status.token
    elsewhere = {**requested["vars"], "slipway_app_namespace": f"{requested['project']}-other"}
    refused = run_playbook("site.yml", elsewhere, "--tags", "preflight", environment=as_identity(api_client, token))
    assert refused.returncode != 0
    message = refused.failures()
    assert "is missing 1 permission(s):\ncannot create projectrequests.project.openshift.io (cluster-wide)\n" in message
    assert "Grant that (playbooks/deployer-rbac.yml with deployer_rbac_projects: true), or make the project " \
           f"first (oc new-project {requested['project']}-other) and the identity its admin." in message
