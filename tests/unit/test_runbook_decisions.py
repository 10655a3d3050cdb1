"""The runbooks' and the deployer's pure decisions, on objects recorded from the sandbox
(fixtures/runbooks: the demo app with its worker crash-looping): the Job made from a component,
the diagnosis report's views, what counts as drift, the RBAC rules granted, and which revision
a rollback restores."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.access_review import describe, expand_permissions, review_body
from ansible.module_utils.rollout_rollback import AlreadyAtRevision, RollbackError, plan_rollback

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "runbooks"


def filters(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_filters", ROOT / "plugins" / "filter" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runbook, rbac, connection = filters("runbook"), filters("rbac"), filters("connection")


def fixture(name: str):
    return yaml.safe_load((FIXTURES / name).read_text())


LABELS = {"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/managed-by": "slipway-runbook"}


def test_a_job_keeps_the_components_image_environment_and_mounts() -> None:
    template = fixture("deployment-backend.yml")["spec"]["template"]
    job = runbook.job_from_pod_template(template, "backend-run-1", ["python", "-m", "app.migrate"], LABELS, 3600, 600)
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    source = template["spec"]["containers"][0]
    assert container["image"] == source["image"]
    assert container["env"] == source["env"]
    assert container["volumeMounts"] == source["volumeMounts"] and pod["volumes"] == template["spec"]["volumes"]
    assert container["securityContext"] == source["securityContext"]
    assert container["command"] == ["python", "-m", "app.migrate"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0
    assert (job["spec"]["ttlSecondsAfterFinished"], job["spec"]["activeDeadlineSeconds"]) == (3600, 600)


def test_a_job_is_no_server_and_not_one_of_the_components_pods() -> None:
    template = fixture("deployment-backend.yml")["spec"]["template"]
    job = runbook.job_from_pod_template(template, "backend-run-1", ["true"], LABELS, 60, 60,
                                        {"sidecar.istio.io/inject": "false"})
    [container] = job["spec"]["template"]["spec"]["containers"]
    for field in ("livenessProbe", "readinessProbe", "startupProbe", "ports"):
        assert field not in container, field
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    selector = fixture("deployment-backend.yml")["spec"]["selector"]["matchLabels"]
    assert not all(pod_labels.get(key) == value for key, value in selector.items())
    assert pod_labels["app.kubernetes.io/name"] == "backend-run-1"
    assert job["spec"]["template"]["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
    # The recorded template is left as it was.
    assert "readinessProbe" in template["spec"]["containers"][0]


@pytest.mark.parametrize("command", [[], "python -m app.migrate", ["python", 3]])
def test_a_job_needs_a_command_list(command) -> None:
    template = fixture("deployment-backend.yml")["spec"]["template"]
    with pytest.raises(AnsibleFilterError, match="non-empty list of strings"):
        runbook.job_from_pod_template(template, "x", command, LABELS, 60, 60)


def test_the_pod_report_puts_the_crash_loop_first_and_says_nothing_of_the_spec() -> None:
    rows = runbook.pod_report(fixture("pods.yml")["items"])
    crashing = rows[0]
    assert crashing["name"].startswith("worker-") and crashing["troubled"]
    assert crashing["containers"][0]["state"] == "CrashLoopBackOff"
    assert crashing["containers"][0]["last_state"] == "Error (exit 1)"
    assert crashing["restarts"] >= 3
    assert [row["name"] for row in rows if row["troubled"]] == [crashing["name"]]
    seed = next(row for row in rows if row["name"].startswith("add-test-content-"))
    assert seed["phase"] == "Succeeded" and not seed["troubled"]
    assert "MONGODB" not in yaml.safe_dump(rows)


def test_events_read_oldest_first_with_their_counts() -> None:
    events = fixture("events.yml")["items"]
    lines = runbook.event_lines(events)
    assert len(lines) == len(events)
    times = [line.split(" ", 1)[0][:19] for line in lines]
    assert times == sorted(times)
    assert any(line.endswith(" Warning FailedGetResourceMetric horizontalpodautoscaler/backend (x21): "
                             + "failed to get cpu utilization: unable to get metrics for resource cpu: "
                             + "unable to fetch metrics from resource metrics API: the server could not find "
                             + "the requested resource (get pods.metrics.k8s.io)") for line in lines), lines


PERMISSIONS = [
    {"resource": "namespaces", "name": "shop", "verbs": ["get", "create", "patch"], "cluster": True},
    {"resource": "pods", "verbs": ["get", "list"]},
    {"resource": "pods", "verbs": ["list", "watch", "delete"]},
    {"resource": "pods", "subresource": "log", "verbs": ["get"]},
    {"group": "apps", "resource": "deployments", "verbs": "patch"},
]


def test_the_role_grants_the_namespaced_permissions_merged() -> None:
    assert rbac.rbac_rules(PERMISSIONS) == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]},
    ]


def test_the_cluster_role_grants_only_the_namespace_object_by_name() -> None:
    assert rbac.rbac_rules(PERMISSIONS, cluster=True) == [
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["shop"],
         "verbs": ["get", "create", "patch"]},
    ]


def test_the_preflight_reviews_a_named_object_as_the_grant_allows_it() -> None:
    checks = expand_permissions(PERMISSIONS[:1], "shop")
    assert describe(checks[1]) == "create namespaces/shop (cluster-wide)"
    assert review_body(checks[1])["spec"]["resourceAttributes"] == {
        "verb": "create", "group": "", "resource": "namespaces", "name": "shop"}


def test_a_project_requester_is_granted_only_the_request_and_any_other_deployer_all_but_it() -> None:
    request = {"group": "project.openshift.io", "resource": "projectrequests", "verbs": ["create"], "cluster": True,
               "creates_namespace": True}
    assert rbac.rbac_grants([*PERMISSIONS, request], projects=True) == [request]
    assert rbac.rbac_grants([*PERMISSIONS, request]) == PERMISSIONS
    assert rbac.rbac_rules(rbac.rbac_grants([*PERMISSIONS, request], projects=True), cluster=True) == [
        {"apiGroups": ["project.openshift.io"], "resources": ["projectrequests"], "verbs": ["create"]}]


def test_a_permission_without_verbs_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="needs a resource and verbs"):
        rbac.rbac_rules([{"resource": "pods"}])


def replicaset(revision: int, image: str, uid: str = "deploy-uid") -> dict:
    return {
        "metadata": {"name": f"web-{revision}", "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                     "ownerReferences": [{"uid": uid, "controller": True}]},
        "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": f"h{revision}"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}},
    }


def deployment(image: str, revision: int) -> dict:
    return {"metadata": {"name": "web", "uid": "deploy-uid", "generation": revision,
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}},
            "status": {"observedGeneration": revision}}


HISTORY = [replicaset(1, "web:1"), replicaset(2, "web:2"), replicaset(3, "web:3")]


def test_undo_goes_to_the_previous_revision_and_names_the_images() -> None:
    plan = plan_rollback("Deployment", deployment("web:3", 3), HISTORY, [], [])
    assert (plan.from_revision, plan.to_revision) == (3, 2)
    assert (plan.from_images, plan.to_images) == (("web:3",), ("web:2",))
    assert plan.patch[0]["value"]["spec"]["containers"][0]["image"] == "web:2"


def test_undo_to_a_given_revision() -> None:
    plan = plan_rollback("Deployment", deployment("web:3", 3), HISTORY, [], [], to_revision=1)
    assert (plan.to_revision, plan.to_images) == (1, ("web:1",))


def test_undo_to_the_current_revision_is_nothing_to_do() -> None:
    with pytest.raises(AlreadyAtRevision):
        plan_rollback("Deployment", deployment("web:3", 3), HISTORY, [], [], to_revision=3)


def test_undo_to_an_unknown_revision_lists_those_kept() -> None:
    with pytest.raises(RollbackError, match=r"revision 7 not found \(revisions kept: 1, 2, 3\)"):
        plan_rollback("Deployment", deployment("web:3", 3), HISTORY, [], [], to_revision=7)


@pytest.mark.parametrize(("kubeconfig", "context", "options"), [
    ("/k/config", "prod", {"kubeconfig": "/k/config", "context": "prod"}),
    ("", "prod", {"context": "prod"}),
    (None, "", {}),  # AWX: K8S_AUTH_* from the credential
])
def test_empty_connection_settings_are_left_to_kubernetes_core(kubeconfig, context, options) -> None:
    assert connection.k8s_connection(kubeconfig, context) == options


@pytest.mark.parametrize(("answer", "names"), [
    (["backend", "worker"], ["backend", "worker"]),
    ("backend", ["backend"]),
    ("backend\nworker\n", ["backend", "worker"]),
    ("backend, worker", ["backend", "worker"]),
    ("", []),
    ([], []),
    (None, []),
])
def test_a_survey_answer_is_read_as_a_list_of_names(answer, names) -> None:
    assert runbook.survey_list(answer, "app_ops_components") == names


def test_a_survey_answer_that_is_no_list_of_names_is_refused_naming_the_variable() -> None:
    with pytest.raises(AnsibleFilterError, match="app_ops_components must be a list of names"):
        runbook.survey_list({"backend": 1}, "app_ops_components")


@pytest.mark.parametrize(("kubeconfig", "context", "environment", "said"), [
    ("/etc/kube.conf", "prod", {"K8S_AUTH_API_KEY": True}, "context prod of /etc/kube.conf"),
    ("", "", {"K8S_AUTH_API_KEY": True, "K8S_AUTH_HOST": "https://api:6443", "KUBECONFIG": "/k"},
     "the token in K8S_AUTH_API_KEY for https://api:6443"),
    ("", "", {"K8S_AUTH_API_KEY": False, "K8S_AUTH_KUBECONFIG": "/awx/kube", "K8S_AUTH_CONTEXT": "c1"},
     "context c1 of K8S_AUTH_KUBECONFIG (/awx/kube)"),
    ("", "", {"K8S_AUTH_API_KEY": False, "KUBECONFIG": "/k", "K8S_AUTH_HOST": ""}, "current context of KUBECONFIG (/k)"),
    (None, None, {}, "current context of ~/.kube/config"),
])
def test_the_credential_in_use_is_named_as_kubernetes_core_picks_it(kubeconfig, context, environment, said) -> None:
    assert connection.k8s_identity(kubeconfig, context, environment) == said
