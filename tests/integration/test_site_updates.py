"""Updates of an app site.yml deployed, on the real node: a changed environment and a changed
source roll out and are waited for, pruning keeps the data, a real app's extras (files, Secret
variables, init containers, volumes, PodDisruptionBudgets, patches) reach its pods."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from kubernetes import client
from kubernetes.stream import stream

from playbook import REPO
from siteapp import COMPONENTS, DEFAULTS, components_with, deploy


def test_a_changed_env_rolls_the_deployment_and_waits(app: dict, apps: client.AppsV1Api) -> None:
    before = apps.read_namespaced_deployment("backend", app["namespace"]).metadata.generation
    rolled = deploy(app, slipway_app_components=components_with(backend={"env": {"LOG_LEVEL": "DEBUG"}}))
    assert rolled.returncode == 0, rolled.stderr
    after = apps.read_namespaced_deployment("backend", app["namespace"])
    assert after.metadata.generation == before + 1
    env = {e.name: e.value for e in after.spec.template.spec.containers[0].env}
    assert env["LOG_LEVEL"] == "DEBUG"
    # The run returned only once the new revision was fully rolled out.
    assert after.status.updated_replicas == after.status.ready_replicas == after.spec.replicas
    assert deploy(app).returncode == 0  # back to the defaults for the other tests


def test_pruning_removes_what_was_dropped_and_keeps_data(
    app: dict, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    namespace = app["namespace"]
    claims_before = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace).items}
    assert claims_before == {"data-mongodb-0"}
    pruned = deploy(app, slipway_app_components=components_with(worker=None),
                    slipway_app_mongodb={**DEFAULTS["slipway_app_mongodb"], "enabled": False})
    assert pruned.returncode == 0, pruned.stderr
    changes = pruned.results("Deploy the app")[0]["changes"]
    assert {"Deployment/worker (pruned)", "StatefulSet/mongodb (pruned)", "Service/mongodb (pruned)"} <= set(changes)
    assert not [c for c in changes if c.startswith(("Secret/", "PersistentVolumeClaim/"))]
    assert {d.metadata.name for d in apps.list_namespaced_deployment(namespace).items} == {"backend", "frontend"}
    assert [s.metadata.name for s in apps.list_namespaced_stateful_set(namespace).items] == ["redis"]
    assert {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace).items} == claims_before
    assert core.read_namespaced_secret("mongodb", namespace).data["password.txt"]
    assert deploy(app).returncode == 0  # restored


def test_a_changed_source_gives_a_new_image_that_rolls_out(
    app: dict, apps: client.AppsV1Api, tmp_path: Path
) -> None:
    source = tmp_path / "app"
    shutil.copytree(Path(REPO) / "app", source, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    own_source = components_with(
        backend={"build": {**COMPONENTS[0]["build"], "context": str(source)}},
        frontend={"build": {**COMPONENTS[1]["build"], "context": str(source)}},
    )
    first = deploy(app, slipway_app_components=own_source)
    assert first.returncode == 0, first.stderr
    before = apps.read_namespaced_deployment("backend", app["namespace"])
    (source / "slipway_demo" / "cards.py").write_text(
        (source / "slipway_demo" / "cards.py").read_text() + "\n# a change to the source\n")
    changed = deploy(app, slipway_app_components=own_source)
    assert changed.returncode == 0, changed.stderr
    after = apps.read_namespaced_deployment("backend", app["namespace"])
    old_image = before.spec.template.spec.containers[0].image
    new_image = after.spec.template.spec.containers[0].image
    assert new_image != old_image and new_image.rsplit(":", 1)[0] == old_image.rsplit(":", 1)[0]
    assert after.metadata.generation == before.metadata.generation + 1
    assert after.status.updated_replicas == after.status.ready_replicas == after.spec.replicas
    assert deploy(app).returncode == 0  # back to the repository's source


def test_a_real_apps_extras_reach_its_pods(app: dict, core: client.CoreV1Api, apps: client.AppsV1Api,
                                          api_client: client.ApiClient) -> None:
    """A file, a variable from a Secret given as a variable, an init container, an extra volume
    and a PodDisruptionBudget on the worker, a patch of the frontend: on real pods."""
    namespace, password = app["namespace"], f"pw-{uuid.uuid4().hex}"
    extras = {
        "files": [{"path": "/etc/slipway/worker.yml", "content": "mode: test\n"}],
        "env": {"SHOP_PASSWORD": {"secret": "shop-db", "key": "password"}},
        "init_containers": [{"name": "prepare", "command": ["python", "-c", "print('prepared')"]}],
        "volumes": [{"name": "cache", "mount_path": "/var/cache/slipway", "source": {"emptyDir": {}}}],
        "pdb": {"max_unavailable": 1},
    }
    patch = {"kind": "Deployment", "name": "frontend",
             "merge": {"metadata": {"annotations": {"slipway.dev/patched": "yes"}}}}
    extended = deploy(app, slipway_app_components=components_with(worker=extras),
                      slipway_app_secrets={"shop-db": {"password": password}}, slipway_app_patches=[patch])
    assert extended.returncode == 0, extended.stderr
    assert password not in extended.stderr + str(extended.output)
    worker = [p for p in core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=worker").items
              if p.metadata.deletion_timestamp is None and p.status.phase == "Running"][0]

    def run(*command: str) -> str:
        return stream(core.connect_get_namespaced_pod_exec, worker.metadata.name, namespace, command=list(command),
                      stderr=True, stdin=False, stdout=True, tty=False)

    assert run("cat", "/etc/slipway/worker.yml") == "mode: test\n"
    assert run("printenv", "SHOP_PASSWORD").strip() == password
    assert run("sh", "-c", "touch /var/cache/slipway/x && echo written").strip() == "written"
    assert core.read_namespaced_pod_log(worker.metadata.name, namespace, container="prepare").strip() == "prepared"
    assert client.PolicyV1Api(api_client).read_namespaced_pod_disruption_budget("worker", namespace).spec.max_unavailable == 1
    frontend = apps.read_namespaced_deployment("frontend", namespace)
    assert frontend.metadata.annotations["slipway.dev/patched"] == "yes"

    restored = deploy(app)
    assert restored.returncode == 0, restored.stderr
    changes = restored.results("Deploy the app")[0]["changes"]
    assert {"ConfigMap/worker-files (pruned)", "PodDisruptionBudget/worker (pruned)"} <= set(changes)
    assert "slipway.dev/patched" not in (apps.read_namespaced_deployment("frontend", namespace).metadata.annotations or {})
    # The user's Secret is kept: Secrets are never pruned.
    assert core.read_namespaced_secret("shop-db", namespace).data["password"]
