"""The deploy and the day-2 runbooks under playbooks/, end to end on the sandbox, each run as an
AWX job (tests/awxjob.py: ansible-runner on a private data dir, the inventory imported from the
project, the survey answers as the strings and lists AWX sends) with the credential AWX injects
for the least-privilege deployer ServiceAccount that playbooks/deployer-rbac.yml creates
(K8S_AUTH_* variables, no kubeconfig). A cluster admin runs deployer-rbac.yml once, by hand.

The tests share one deployment and run in the order written: each leaves the app in the
state the next one expects.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.stream import stream

from awxjob import AwxJob, kubernetes_credential, run_job, sandbox_credential
from deployer import grant_deployer, revoke_deployer
from kubewait import wait_for
from playbook import REPO, playbook_environment, run_playbook
from realnode import SANDBOXCTL

# The Deploy job template: the cluster exists; its phases after provisioning.
DEPLOY_TAGS = "--tags preflight,build,deploy"


@pytest.fixture(scope="module")
def app(api_client: client.ApiClient, core: client.CoreV1Api, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo app deployed by the deployer's Deploy job into a namespace of its own."""
    name = f"ops-{uuid.uuid4().hex[:6]}"
    variables = {"slipway_app_namespace": name, "slipway_app_name": name}
    token = grant_deployer(core, variables)
    credentials = {**kubernetes_credential(api_client.configuration, token), **sandbox_credential()}
    # The job template's extra variables: the sandbox inventory names its admin kubeconfig; empty,
    # kubernetes.core uses K8S_AUTH_*.
    job_vars = {**variables, "slipway_kubeconfig": "", "slipway_kube_context": ""}
    jobs = tmp_path_factory.mktemp("jobs")
    deployed = run_job(jobs, "site.yml", extravars=job_vars, envvars=credentials, cmdline=DEPLOY_TAGS)
    assert deployed.status == "successful", deployed.failures() or deployed.stdout[-3000:]
    yield {"namespace": name, "vars": job_vars, "credentials": credentials, "token": token, "jobs": jobs,
           "deployed": deployed, "env": {**credentials, "KUBECONFIG": None}}
    core.delete_namespace(name)
    revoke_deployer(api_client, name)


def runbook(app: dict, name: str, *options: str, **variables) -> AwxJob:
    """Run playbooks/NAME.yml as the deployer's job, `options` the job template's (e.g. --check)."""
    return run_job(app["jobs"], f"playbooks/{name}.yml", extravars={**app["vars"], **variables},
                   envvars=app["credentials"], cmdline=" ".join(options))


def test_the_deploy_job_succeeds_and_its_rerun_changes_nothing(app: dict, apps: client.AppsV1Api) -> None:
    assert app["deployed"].rc == 0 and app["deployed"].changed > 0
    for deployment in apps.list_namespaced_deployment(app["namespace"]).items:
        assert deployment.status.ready_replicas == deployment.spec.replicas, deployment.metadata.name
    again = run_job(app["jobs"], "site.yml", extravars=app["vars"], envvars=app["credentials"], cmdline=DEPLOY_TAGS)
    assert again.status == "successful" and again.changed == 0, again.failures()


def running_pods(core: client.CoreV1Api, namespace: str, component: str) -> set[str]:
    pods = core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/name={component}").items
    return {p.metadata.name for p in pods if not p.metadata.deletion_timestamp}


def test_granting_again_changes_nothing_and_keeps_the_deploys_labels(app: dict, core: client.CoreV1Api) -> None:
    again = run_playbook("playbooks/deployer-rbac.yml", {"slipway_app_namespace": app["namespace"]})
    assert again.returncode == 0 and again.changed == 0
    labels = core.read_namespace(app["namespace"]).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_drift_passes_on_a_fresh_deploy(app: dict) -> None:
    checked = runbook(app, "drift", "--check")
    assert checked.status == "successful", checked.failures()
    assert checked.changed == 0
    assert "matches the app's description" in checked.results("Fail when the cluster drifted")[0]["msg"]


def test_the_deployer_is_denied_outside_its_namespace(app: dict, apps: client.AppsV1Api) -> None:
    elsewhere = {**app["vars"], "slipway_app_namespace": "default"}
    denied = run_job(app["jobs"], "playbooks/restart.yml", extravars=elsewhere, envvars=app["credentials"])
    assert denied.status == "failed"
    assert "forbidden" in denied.failures().lower()
    denied_deploy = run_job(app["jobs"], "site.yml", extravars=elsewhere, envvars=app["credentials"],
                            cmdline="--tags preflight")
    assert denied_deploy.status == "failed"
    assert "cannot create deployments.apps in namespace default" in denied_deploy.failures()


def test_a_wrong_token_fails_the_job_naming_the_credential_and_shows_no_token(app: dict) -> None:
    wrong = secrets.token_urlsafe(32)
    refused = run_job(app["jobs"], "site.yml", extravars=app["vars"], cmdline=DEPLOY_TAGS,
                      envvars={**app["credentials"], "K8S_AUTH_API_KEY": wrong})
    assert refused.status == "failed" and refused.rc != 0
    message = refused.failures()
    assert "401" in message and "K8S_AUTH_API_KEY" in message, message
    assert not refused.results("Deploy the app"), "the deploy ran with a refused credential"
    # What AWX keeps of a job: its events and output. (runner's own artifacts/<ident>/command
    # records the environment it was given; AWX does not keep that file.)
    kept = [refused.artifacts / "stdout", *sorted((refused.artifacts / "job_events").iterdir())]
    for path in kept:
        text = path.read_text()
        assert wrong not in text and app["token"] not in text, path.name


def test_restart_in_check_mode_reports_and_changes_nothing(app: dict, core: client.CoreV1Api,
                                                           apps: client.AppsV1Api) -> None:
    before = running_pods(core, app["namespace"], "backend")
    # A multiple-choice survey answer: one string.
    checked = runbook(app, "restart", "--check", "--diff", app_ops_components="backend")
    assert checked.status == "successful", checked.failures()
    assert checked.changed == 1
    template = apps.read_namespaced_deployment("backend", app["namespace"]).spec.template
    assert "kubectl.kubernetes.io/restartedAt" not in (template.metadata.annotations or {})
    assert running_pods(core, app["namespace"], "backend") == before


def test_restart_rolls_every_pod(app: dict, core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    namespace = app["namespace"]
    before = {c: running_pods(core, namespace, c) for c in ("backend", "frontend", "worker")}
    # A multiple-select survey answer: a list.
    restarted = runbook(app, "restart", app_ops_components=["backend", "frontend", "worker"])
    assert restarted.status == "successful", restarted.failures()
    for component, old_pods in before.items():
        deployment = apps.read_namespaced_deployment(component, namespace)
        assert "kubectl.kubernetes.io/restartedAt" in deployment.spec.template.metadata.annotations
        now = running_pods(core, namespace, component)
        assert old_pods and not old_pods & now, component
        assert len(now) == deployment.spec.replicas, component
    assert any("successfully rolled out" in line for line in restarted.results("Report the restart")[0]["msg"])


def test_scale_refuses_a_component_under_an_autoscaler(app: dict, apps: client.AppsV1Api) -> None:
    refused = runbook(app, "scale", app_ops_component="backend", app_ops_replicas="5")
    assert refused.status == "failed"
    message = refused.failures()
    assert "managed by HorizontalPodAutoscaler backend (2-20 replicas)" in message
    assert "app_ops_hpa_min_replicas" in message
    assert apps.read_namespaced_deployment("backend", app["namespace"]).spec.replicas == 2


def test_scale_sets_replicas_once(app: dict, apps: client.AppsV1Api) -> None:
    # A survey's text answer, or a number sent through the API as text: a string.
    scaled = runbook(app, "scale", app_ops_component="frontend", app_ops_replicas="3")
    assert scaled.status == "successful", scaled.failures()
    frontend = apps.read_namespaced_deployment("frontend", app["namespace"])
    assert (frontend.spec.replicas, frontend.status.ready_replicas) == (3, 3)
    again = runbook(app, "scale", app_ops_component="frontend", app_ops_replicas="3")
    assert again.status == "successful" and again.changed == 0


def test_scale_moves_an_autoscalers_bounds(app: dict, api_client: client.ApiClient) -> None:
    moved = runbook(app, "scale", app_ops_component="backend", app_ops_hpa_min_replicas=3)
    assert moved.status == "successful", moved.failures()
    hpa = client.AutoscalingV2Api(api_client).read_namespaced_horizontal_pod_autoscaler("backend", app["namespace"])
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 20)


def test_drift_fails_after_a_manual_change(app: dict) -> None:
    # The frontend runs 3 replicas since the scale above; the description says 2.
    drifted = runbook(app, "drift", "--check")
    assert drifted.status == "failed"
    message = drifted.failures()
    assert "Deployment/frontend" in message and "HorizontalPodAutoscaler/backend" in message
    assert "Deployment/backend" not in message


def test_rollback_restores_the_previous_image(app: dict, apps: client.AppsV1Api) -> None:
    namespace = app["namespace"]
    original = apps.read_namespaced_deployment("frontend", namespace).spec.template.spec.containers[0].image
    changed = f"{original.rsplit(':', 1)[0]}:hand-made"
    # A release made by hand: another tag of the same image, on the Docker engine and the node.
    subprocess.run(["docker", "tag", original, changed], check=True)
    subprocess.run([sys.executable, SANDBOXCTL, "load-images", changed], check=True, capture_output=True)
    apps.patch_namespaced_deployment("frontend", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "frontend", "image": changed}]}}}})
    wait_for(apps.list_namespaced_deployment, lambda d: d.status.updated_replicas == d.spec.replicas
             and d.status.observed_generation == d.metadata.generation,
             namespace=namespace, field_selector="metadata.name=frontend")
    rolled_back = runbook(app, "rollback", app_ops_component="frontend")
    assert rolled_back.status == "successful", rolled_back.failures()
    frontend = apps.read_namespaced_deployment("frontend", namespace)
    assert frontend.spec.template.spec.containers[0].image == original
    assert frontend.status.updated_replicas == frontend.status.ready_replicas == frontend.spec.replicas
    report = rolled_back.results("Report the rollback")[0]["msg"]
    assert report.startswith("deployment/frontend rolled back from revision")
    assert f"({changed}) to" in report and report.endswith(f"({original})")


def test_run_job_completes_and_shows_its_log(app: dict, batch: client.BatchV1Api) -> None:
    ran = runbook(app, "run-job", app_ops_component="backend", app_ops_job_name="seed-again",
                  app_ops_command=["python", "-m", "slipway_demo.add_test_content"])
    assert ran.status == "successful", ran.failures()
    job = batch.read_namespaced_job("seed-again", app["namespace"])
    assert job.status.succeeded == 1
    container = job.spec.template.spec.containers[0]
    assert container.command == ["python", "-m", "slipway_demo.add_test_content"]
    assert container.readiness_probe is None and not container.ports
    # Not one of the backend's pods: the backend's Service must not route to it.
    assert job.spec.template.metadata.labels["app.kubernetes.io/name"] == "seed-again"
    log = ran.results("Show the Job's log")[0]["msg"]
    assert any("card 'helloworld' is up to date" in line for line in log), log
    again = runbook(app, "run-job", app_ops_component="backend", app_ops_job_name="seed-again",
                    app_ops_command=["python", "-m", "slipway_demo.add_test_content"])
    assert again.status == "successful" and again.changed == 0


def test_a_failing_job_fails_with_its_log(app: dict, batch: client.BatchV1Api) -> None:
    # The demo app has no migrations: python exits 1, for real.
    failed = runbook(app, "run-job", app_ops_component="backend", app_ops_job_name="migrate-broken",
                     app_ops_command=["python", "-m", "slipway_demo.migrate"])
    assert failed.status == "failed"
    message = failed.failures()
    assert "job/migrate-broken" in message and "BackoffLimitExceeded" in message
    log = failed.results("Show the Job's log")[0]["msg"]
    assert any("No module named slipway_demo.migrate" in line for line in log), log
    assert batch.read_namespaced_job("migrate-broken", app["namespace"]).status.failed == 1


def test_restore_needs_an_explicit_confirmation(app: dict, batch: client.BatchV1Api) -> None:
    refused = runbook(app, "restore", app_ops_restore_dump="mongodb-20261127-030000.archive.gz")
    assert refused.status == "failed"
    assert "app_ops_restore_confirm=true" in refused.failures()
    assert not batch.list_namespaced_job(app["namespace"], label_selector="app.kubernetes.io/component=restore").items


STORE = ("import os; from slipway_demo.config import MongoSettings; from slipway_demo.store import MongoCardStore; "
         "MongoCardStore.connect(MongoSettings.from_env(os.environ), 10).upsert('backed-up', {title!r}, '# {title}')")


def store_card(app: dict, job: str, title: str) -> None:
    """Write a card with the app's own store code, in a Job made from the backend."""
    stored = runbook(app, "run-job", app_ops_component="backend", app_ops_job_name=job,
                     app_ops_command=["python", "-c", STORE.format(title=title)])
    assert stored.status == "successful", stored.failures()


def card_title(app: dict, core: client.CoreV1Api) -> str:
    """The title the backend's API serves for the card, asked from inside a backend pod."""
    pod = sorted(running_pods(core, app["namespace"], "backend"))[0]
    return stream(core.connect_get_namespaced_pod_exec, pod, app["namespace"], command=[
        "python", "-c", "import json, urllib.request; print(json.load(urllib.request.urlopen("
        "'http://localhost:40001/api/v1/card/backed-up'))['title'])"],
        stderr=True, stdin=False, stdout=True, tty=False).strip()


def test_backup_dumps_the_database_and_restore_brings_it_back(app: dict, core: client.CoreV1Api,
                                                              batch: client.BatchV1Api) -> None:
    namespace = app["namespace"]
    store_card(app, "store-before-backup", "written before the backup")
    backed_up = runbook(app, "backup", app_ops_backup_retention="3")
    assert backed_up.status == "successful", backed_up.failures()
    jobs = batch.list_namespaced_job(namespace, label_selector="app.kubernetes.io/component=backup").items
    assert len(jobs) == 1 and jobs[0].status.succeeded == 1
    pod = jobs[0].spec.template.spec
    env = {e.name: e.value for e in pod.containers[0].env}
    assert pod.containers[0].command == ["bash", "/scripts/mongodb-backup.sh"]
    assert env["BACKUP_RETENTION"] == "3"
    dump = env["DUMP_NAME"]
    assert dump in backed_up.results("Report the backup")[0]["msg"]
    volumes = {v.name: v for v in pod.volumes}
    assert volumes["dumps"].persistent_volume_claim.claim_name == "mongodb-backup"
    assert volumes["mongodb-secret"].secret.secret_name == "mongodb"
    assert core.read_namespaced_persistent_volume_claim("mongodb-backup", namespace).status.phase == "Bound"
    script = core.read_namespaced_config_map("mongodb-dump-scripts", namespace).data["mongodb-backup.sh"]
    assert script == (Path(REPO) / "roles/app_ops/files/mongodb-backup.sh").read_text()
    # The dump really ran: the script's own report in the Job's log.
    dump_pod = core.list_namespaced_pod(namespace, label_selector=f"job-name={jobs[0].metadata.name}").items[0]
    assert f"backup: wrote {dump}" in core.read_namespaced_pod_log(dump_pod.metadata.name, namespace)

    store_card(app, "store-after-backup", "changed after the backup")
    assert card_title(app, core) == "changed after the backup"
    restored = runbook(app, "restore", app_ops_restore_dump=dump, app_ops_restore_confirm=True)
    assert restored.status == "successful", restored.failures()
    assert card_title(app, core) == "written before the backup"


def test_diagnose_reports_an_injected_crash_loop(app: dict, core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    namespace = app["namespace"]
    # A worker that cannot start: it exits 1 at once, and the kubelet backs off its restarts.
    apps.patch_namespaced_deployment("worker", namespace, {"spec": {"template": {"spec": {"containers": [
        {"name": "worker", "command": ["python", "-c", "raise SystemExit('worker: no queue configured')"]}]}}}})
    # Backing off, not between a crash and the back-off: the pod says CrashLoopBackOff only then.
    crashing = wait_for(
        core.list_namespaced_pod,
        lambda p: any(s.restart_count >= 2 and not s.ready and s.state.waiting
                      and s.state.waiting.reason == "CrashLoopBackOff" for s in p.status.container_statuses or []),
        namespace=namespace, label_selector="app.kubernetes.io/name=worker")
    diagnosed = runbook(app, "diagnose")
    assert diagnosed.status == "successful", diagnosed.failures()
    # No app_ops_report_dir given: the report is one of the job's artifacts.
    [report] = diagnosed.artifacts.glob(f"{namespace}-*")
    summary = (report / "summary.txt").read_text()
    assert "deployment/worker" in summary and "CrashLoopBackOff" in summary
    assert f"pod {crashing.metadata.name}: CrashLoopBackOff" in summary
    assert summary.splitlines() == diagnosed.results("Show the summary")[0]["msg"]
    pods = yaml.safe_load((report / "pods.yml").read_text())
    assert crashing.metadata.name in [pod["name"] for pod in pods if pod["troubled"]]
    assert f"Normal Scheduled pod/{crashing.metadata.name}" in (report / "events.txt").read_text()
    assert "worker: no queue configured" in (report / "workloads.yml").read_text()
    # The deployer may not read the ingress controller's namespace: said, not failed.
    assert "No ingress controller pods read" in (report / "ingress-controller.log").read_text()
    password = base64.b64decode(core.read_namespaced_secret("mongodb", namespace).data["password.txt"]).decode()
    for path in report.iterdir():
        assert password not in path.read_text(), path.name


def test_teardown_keeps_the_data_and_secrets(app: dict, core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    namespace = app["namespace"]
    torn_down = runbook(app, "teardown")
    assert torn_down.status == "successful", torn_down.failures()
    assert not apps.list_namespaced_deployment(namespace).items
    assert not apps.list_namespaced_stateful_set(namespace).items
    assert not core.list_namespaced_service(namespace).items
    claims = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace).items}
    assert claims == {"data-mongodb-0", "mongodb-backup"}
    assert core.read_namespaced_secret("mongodb", namespace).data["password.txt"]
    kept = torn_down.results("Report the teardown")[0]["msg"]["kept"]
    assert "Secret/mongodb" in kept and "PersistentVolumeClaim/data-mongodb-0" in kept
    again = runbook(app, "teardown")
    assert again.status == "successful" and again.changed == 0


def test_purge_removes_them_and_says_nothing_secret(app: dict, core: client.CoreV1Api) -> None:
    namespace = app["namespace"]
    password = base64.b64decode(core.read_namespaced_secret("mongodb", namespace).data["password.txt"]).decode()
    variables = Path(REPO) / f".pytest-{namespace}-vars.yml"
    variables.write_text(yaml.safe_dump({**app["vars"], "app_ops_purge": True}))
    environment = playbook_environment(app["env"])
    try:
        purged = subprocess.run(
            [str(Path(REPO) / ".venv" / "bin" / "ansible-playbook"), "playbooks/teardown.yml", "-vvv",
             "-e", f"@{variables}"],
            cwd=REPO, capture_output=True, text=True, env=environment)
    finally:
        variables.unlink()
    assert purged.returncode == 0, purged.stdout[-3000:]
    claims = core.list_namespaced_persistent_volume_claim(namespace).items
    assert not claims, [c.metadata.name for c in claims] + [purged.stdout[-6000:]]
    assert not core.list_namespaced_secret(namespace, label_selector=f"app.kubernetes.io/part-of={namespace}").items
    output = purged.stdout + purged.stderr
    assert "Secret/mongodb" in output and "PersistentVolumeClaim/data-mongodb-0" in output
    assert password not in output
    assert base64.b64encode(password.encode()).decode() not in output
