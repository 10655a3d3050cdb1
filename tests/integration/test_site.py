"""site.yml end to end on the sandbox, through real ansible-playbook runs: deploy on the real
node and the app answering through the Ingress, idempotence, check mode, early validation and
secrecy (the updates of a deployed app are in test_site_updates.py)."""

from __future__ import annotations

import base64
import http.client
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.stream import stream
from urllib.parse import urlparse

from kubewait import wait_for
from playbook import REPO, run_playbook
from siteapp import components_with, deploy
from slipway_sandbox.layout import KWOK_PLACEMENT, PORTS


def test_everything_is_deployed_and_ready(app: dict, apps: client.AppsV1Api, batch: client.BatchV1Api) -> None:
    namespace = app["namespace"]
    deployments = {d.metadata.name: d for d in apps.list_namespaced_deployment(namespace).items}
    assert set(deployments) == {"backend", "frontend", "worker"}
    for deployment in deployments.values():
        assert deployment.status.ready_replicas == deployment.spec.replicas, deployment.metadata.name
    statefulsets = {s.metadata.name: s for s in apps.list_namespaced_stateful_set(namespace).items}
    assert {name: s.status.ready_replicas for name, s in statefulsets.items()} == {"mongodb": 1, "redis": 1}
    jobs = batch.list_namespaced_job(namespace).items
    assert [j.metadata.name.rsplit("-", 1)[0] for j in jobs] == ["add-test-content"]
    assert jobs[0].status.succeeded == 1
    summary = app["first"].results("Show the deployment")[0]["msg"]
    assert summary["namespace"] == namespace
    assert f"deployment/backend: 2/2 ready, slipway/{namespace}-backend:" in " ".join(summary["workloads"])


def fetch_through_the_ingress(url: str) -> tuple[int, str]:
    """GET a URL the deploy printed, from the Ingress controller on 127.0.0.1 (its host name
    is a *.localhost name, which resolves to loopback in browsers and curl)."""
    parsed = urlparse(url)
    assert parsed.port == PORTS["ingress-http"]
    connection = http.client.HTTPConnection("127.0.0.1", parsed.port, timeout=10)
    connection.request("GET", parsed.path, headers={"Host": parsed.netloc})
    response = connection.getresponse()
    return response.status, response.read().decode()


def worker_rendered(core: client.CoreV1Api, namespace: str, slug: str) -> None:
    """Return once the worker's log says it rendered `slug` (followed, not polled)."""
    worker = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=worker").items[0]
    stream = core.read_namespaced_pod_log(worker.metadata.name, namespace, follow=True,
                                          _preload_content=False, _request_timeout=60)
    for line in stream:
        if f"rendered card '{slug}'".encode() in line:
            stream.release_conn()
            return
    pytest.fail(f"the worker's log never said it rendered {slug!r}")


def test_the_app_answers_through_the_ingress_with_the_card_the_worker_rendered(
        app: dict, core: client.CoreV1Api) -> None:
    summary = app["first"].results("Show the deployment")[0]["msg"]
    frontend = f"http://frontend.{app['namespace']}.localhost:{PORTS['ingress-http']}/"
    assert frontend in summary["urls"]
    worker_rendered(core, app["namespace"], "helloworld")
    status, page = fetch_through_the_ingress(frontend + "card/helloworld")
    assert status == 200, page
    # Stored by the seed Job in the MongoDB-compatible store, rendered by the worker from the
    # Redis queue, served by the backend's API to the frontend, routed by the Ingress.
    assert "<h1>Hello, world!</h1>" in page
    assert "still being rendered" not in page
    status, _ = fetch_through_the_ingress(frontend + "card/no-such-card")
    assert status == 404


def test_pods_run_as_their_non_root_uid_with_a_read_only_root(app: dict, core: client.CoreV1Api) -> None:
    backend = core.list_namespaced_pod(app["namespace"], label_selector="app.kubernetes.io/name=backend").items[0]
    assert backend.spec.node_name and core.read_node(backend.spec.node_name).metadata.labels["type"] == "real"
    uid = stream(core.connect_get_namespaced_pod_exec, backend.metadata.name, app["namespace"],
                 command=["id", "-u"], stderr=True, stdin=False, stdout=True, tty=False)
    assert uid.strip() == "10001"
    written = stream(core.connect_get_namespaced_pod_exec, backend.metadata.name, app["namespace"],
                     command=["python", "-c", "open('/opt/app/x', 'w')"], stderr=True, stdin=False,
                     stdout=True, tty=False)
    assert "Read-only file system" in written
    # The app's own output, from the container's log on the node.
    log = core.read_namespaced_pod_log(backend.metadata.name, app["namespace"])
    assert "waitress: Serving on http://0.0.0.0:40001" in log


def test_the_autoscaler_sees_the_backends_real_cpu_utilisation(app: dict, api_client: client.ApiClient) -> None:
    def cpu_utilisation(hpa) -> int | None:
        for metric in hpa.status.current_metrics or []:
            if metric.type == "Resource" and metric.resource.name == "cpu":
                return metric.resource.current.average_utilization
        return None

    autoscaling = client.AutoscalingV2Api(api_client)
    # metrics-server scrapes the real node's kubelet every 15 s; the HPA controller reads it.
    hpa = wait_for(autoscaling.list_namespaced_horizontal_pod_autoscaler,
                   lambda h: cpu_utilisation(h) is not None, timeout=120,
                   namespace=app["namespace"], field_selector="metadata.name=backend")
    assert 0 <= cpu_utilisation(hpa) < 75  # an idle backend, below its target


def test_restricted_namespace_admitted_every_pod(app: dict, core: client.CoreV1Api) -> None:
    namespace = core.read_namespace(app["namespace"])
    assert namespace.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = core.list_namespaced_pod(app["namespace"]).items
    assert len(pods) >= 2 + 2 + 1 + 1 + 1 + 1  # backend, frontend, worker, mongodb, redis, seed job
    for pod in pods:
        assert pod.spec.security_context.run_as_non_root is True
        for container in pod.spec.containers:
            assert container.security_context.capabilities.drop == ["ALL"]


def test_second_run_changes_nothing_and_keeps_the_secret(app: dict, core: client.CoreV1Api) -> None:
    before = core.read_namespaced_secret("mongodb", app["namespace"]).data["password.txt"]
    assert len(base64.b64decode(before)) == 32
    again = deploy(app)
    assert again.returncode == 0
    assert again.changed == 0, [t["task"]["name"] for p in again.output["plays"] for t in p["tasks"]
                                if t["hosts"].get("localhost", {}).get("changed")]
    assert core.read_namespaced_secret("mongodb", app["namespace"]).data["password.txt"] == before


def test_check_mode_reports_a_change_and_makes_none(app: dict, apps: client.AppsV1Api) -> None:
    before = apps.read_namespaced_deployment("backend", app["namespace"])
    checked = deploy(app, "--check", "--diff",
                     slipway_app_components=components_with(backend={"env": {"LOG_LEVEL": "DEBUG"}}))
    assert checked.returncode == 0, checked.stderr
    deployed = checked.results("Deploy the app")[0]
    assert deployed["changed"] is True and deployed["changes"] == ["Deployment/backend"]
    # The diff is the dry run's object against the live one: the variable that would be added.
    diff = deployed["diff"][0]
    added = {e["name"] for e in diff["after"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "LOG_LEVEL" in added - {e["name"] for e in diff["before"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    after = apps.read_namespaced_deployment("backend", app["namespace"])
    assert after.metadata.resource_version == before.metadata.resource_version


def resource_versions(api_client: client.ApiClient, namespace: str) -> dict[str, str]:
    """Every object of the kinds slipway writes in the namespace, and the namespace: kind/name ->
    its resourceVersion. Controllers keep writing the status of workloads, claims and HPAs (and
    with it their resourceVersion): theirs is the generation and when slipway last wrote them."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    listings = {
        "Service": core.list_namespaced_service, "Secret": core.list_namespaced_secret,
        "ConfigMap": core.list_namespaced_config_map,
        "PersistentVolumeClaim": core.list_namespaced_persistent_volume_claim,
        "Deployment": apps.list_namespaced_deployment, "StatefulSet": apps.list_namespaced_stateful_set,
        "Job": client.BatchV1Api(api_client).list_namespaced_job,
        "Ingress": client.NetworkingV1Api(api_client).list_namespaced_ingress,
        "HorizontalPodAutoscaler": client.AutoscalingV2Api(api_client).list_namespaced_horizontal_pod_autoscaler,
    }
    versions = {f"Namespace/{namespace}": core.read_namespace(namespace).metadata.resource_version}
    for kind, listing in listings.items():
        for item in listing(namespace).items:
            meta = item.metadata
            versions[f"{kind}/{meta.name}"] = meta.resource_version if kind in ("Service", "Secret", "ConfigMap") \
                else (meta.generation, [str(m.time) for m in meta.managed_fields or [] if m.manager == "slipway"])
    return versions


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"slipway_app_components": components_with(backend={"port": 70000})},
         "slipway_app_components[0] (backend).port: 70000 is outside 1..65535"),
        ({"slipway_app_components": components_with(backend={"replicas": -1})},
         "slipway_app_components[0] (backend).replicas: -1 is outside >= 0"),
        ({"slipway_app_components": components_with(backend={"strategy": {"type": "BlueGreen"}})},
         "got: BlueGreen found in slipway_app_components -> strategy"),
        ({"slipway_app_components": components_with(backend={"name": None})}, "slipway_app_components"),
        ({"slipway_app_components": components_with(
            backend={"probes": {"liveness": {"path": "/healthz", "command": ["true"]}}})},
         "slipway_app_components[0] (backend).probes.liveness: give one of path, command or tcp_socket"),
        ({"slipway_app_components": components_with(frontend={"ingress_host": "Front End!"})},
         "slipway_app_components[1] (frontend).ingress_host: 'Front End!."),
        ({"slipway_app_components": components_with(backend={"resources": {"limits": {"memory": "256 MB"}}})},
         "slipway_app_components[0] (backend).resources.limits.memory: '256 MB' is not a Kubernetes quantity"),
        ({"slipway_app_components": components_with(backend={"build": {"target": "backend"}})},
         "missing required arguments: context found in slipway_app_components -> build"),
        ({"slipway_app_components": components_with(backend={"build": {"context": "/nowhere/app"}})},
         "slipway_app_components[0] (backend).build.context: /nowhere/app is not a folder on the controller"),
        # Only the API server knows this one: the dry run of the Ingress is refused.
        ({"slipway_app_ingress_class": "Not A Class"},
         "Ingress/site-"),
    ],
)
def test_bad_variables_fail_before_anything_changes(app: dict, api_client: client.ApiClient, overrides: dict,
                                                    named: str) -> None:
    before = resource_versions(api_client, app["namespace"])
    failed = deploy(app, **overrides)
    assert failed.returncode != 0
    assert failed.changed == 0
    messages = " ".join(
        str(t["hosts"]["localhost"].get("msg", "")) for p in failed.output["plays"] for t in p["tasks"]
        if t["hosts"].get("localhost", {}).get("failed")
    )
    assert named in messages
    if named == "Ingress/site-":
        assert "slipway_app_ingress_class" in messages and "nothing was changed" in messages
    assert resource_versions(api_client, app["namespace"]) == before


def test_verbose_output_never_contains_the_secret(app: dict, core: client.CoreV1Api) -> None:
    password = base64.b64decode(core.read_namespaced_secret("mongodb", app["namespace"]).data["password.txt"]).decode()
    # A Secret of the user's own, its value given as a variable.
    own = f"own-{uuid.uuid4().hex}"
    variables = Path(REPO) / ".pytest-site-vars.yml"
    variables.write_text(yaml.safe_dump({**app["vars"], "slipway_app_secrets": {"shop-api": {"token": own}}}))
    try:
        verbose = subprocess.run(
            [str(Path(REPO) / ".venv" / "bin" / "ansible-playbook"), "site.yml", "-vvv", "-e", f"@{variables}"],
            cwd=REPO, capture_output=True, text=True,
        )
    finally:
        variables.unlink()
    assert verbose.returncode == 0
    output = verbose.stdout + verbose.stderr
    assert "TASK [app_deploy : Deploy the app]" in output  # the step ran, and said nothing of the Secret's content
    assert base64.b64decode(core.read_namespaced_secret("shop-api", app["namespace"]).data["token"]).decode() == own
    for secret in (password, own):
        assert secret not in output
        assert base64.b64encode(secret.encode()).decode() not in output


def test_an_app_without_data_stores_ingress_or_autoscaler(namespace: str, apps: client.AppsV1Api) -> None:
    # Such an app renders no data store, Ingress or HPA document at all. Its image is from a
    # registry the sandbox cannot reach, so it runs on kwok's simulated nodes.
    bare = {
        "slipway_app_node_selector": KWOK_PLACEMENT["nodeSelector"],
        "slipway_app_tolerations": KWOK_PLACEMENT["tolerations"],
        "slipway_app_namespace": namespace, "slipway_app_name": namespace,
        "slipway_app_mongodb": {"enabled": False}, "slipway_app_redis": {"enabled": False},
        "slipway_app_jobs": [], "slipway_app_common_env": {},
        "slipway_app_components": [{"name": "web", "image": "registry.example.com/web:1.0", "replicas": 1, "port": 8080}],
    }
    deployed = run_playbook("site.yml", bare, "--tags", "deploy")
    assert deployed.returncode == 0, deployed.stderr + str(deployed.output["stats"])
    assert [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items] == ["web"]
    assert not apps.list_namespaced_stateful_set(namespace).items
    # The namespace made by the fixture gains its labels.
    assert deployed.results("Deploy the app")[0]["changes"] == [f"Namespace/{namespace}", "Deployment/web", "Service/web"]
