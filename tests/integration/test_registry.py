"""The remote path end to end: site.yml with inventory/remote against the sandbox, as the
deployer ServiceAccount (K8S_AUTH_*, as AWX injects a credential), pushing to the sandbox's
real registry (TLS from the sandbox's CA, htpasswd) and the real node pulling from it with the
pull Secret slipway makes. Nothing is copied into the node: every pod's image is pulled.

The tests share one deployment and run in the order written.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest
from kubernetes import client

from awxjob import kubernetes_credential
from deployer import TINY_COMPONENTS, grant_deployer, revoke_deployer, tiny_app
from playbook import PlaybookRun, run_playbook

REGISTRY = os.environ["SLIPWAY_SANDBOX_REGISTRY"]
USERNAME = os.environ["SLIPWAY_SANDBOX_REGISTRY_USERNAME"]
PASSWORD = os.environ["SLIPWAY_SANDBOX_REGISTRY_PASSWORD"]
CA_CERT = os.environ["SLIPWAY_SANDBOX_CA_CERT"]


@pytest.fixture(scope="module")
def remote(api_client: client.ApiClient, core: client.CoreV1Api, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The deployer's identity and a two-component app of tiny images, each its own context."""
    name = f"reg-{uuid.uuid4().hex[:6]}"
    contexts = tmp_path_factory.mktemp("contexts")
    variables = tiny_app(name, contexts)
    environment = {
        **kubernetes_credential(api_client.configuration, grant_deployer(core, variables)), "KUBECONFIG": None,
        # A repository path of this module's own: its first push finds nothing there.
        "SLIPWAY_REGISTRY": f"{REGISTRY}/{name}", "SLIPWAY_REGISTRY_USERNAME": USERNAME,
        "SLIPWAY_REGISTRY_PASSWORD": PASSWORD, "SLIPWAY_REGISTRY_CA_CERT": CA_CERT,
    }
    yield {"name": name, "vars": variables, "env": environment, "contexts": contexts,
           "first": deploy({"vars": variables, "env": environment})}
    core.delete_namespace(name)
    revoke_deployer(api_client, name)


def deploy(remote: dict, *options: str, **environment: str) -> PlaybookRun:
    return run_playbook("site.yml", remote["vars"], *options, inventory="inventory/remote",
                        environment={**remote["env"], **environment})


def pushed(run: PlaybookRun) -> list[str]:
    return [item["item"] for item in run.results("Push each image the registry lacks") if item.get("changed")]


def refs(run: PlaybookRun) -> dict[str, str]:
    """The image references the run named (by component)."""
    return run.results("Name each image by its repository and source tag")[0]["ansible_facts"]["image_build_refs"]


def printed(run: PlaybookRun) -> str:
    return json.dumps(run.output) + run.stderr


def deployment_image(apps: client.AppsV1Api, remote: dict, name: str) -> str:
    return apps.read_namespaced_deployment(name, remote["name"]).spec.template.spec.containers[0].image


def test_the_first_run_pushes_every_image_and_the_node_pulls_them(remote: dict, core: client.CoreV1Api,
                                                                 apps: client.AppsV1Api) -> None:
    first = remote["first"]
    assert first.returncode == 0, first.failures()
    built = refs(first)
    assert sorted(pushed(first)) == sorted(built.values())
    assert all(ref.startswith(f"{REGISTRY}/{remote['name']}/") for ref in built.values())
    assert PASSWORD not in printed(first)

    secret = core.read_namespaced_secret("registry-pull", remote["name"])
    assert secret.type == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(secret.data[".dockerconfigjson"]))["auths"]
    assert auths[REGISTRY]["username"] == USERNAME
    for each in TINY_COMPONENTS:
        pod_spec = apps.read_namespaced_deployment(each, remote["name"]).spec.template.spec
        assert [s.name for s in pod_spec.image_pull_secrets] == ["registry-pull"]
        assert pod_spec.containers[0].image_pull_policy == "IfNotPresent"
    # Pulled by the node's runtime from the registry (the inventory loads nothing into it).
    events = core.list_namespaced_event(remote["name"], field_selector="reason=Pulled").items
    pulls = {e.message.split('"')[1] for e in events if e.message.startswith("Successfully pulled image")}
    assert pulls == set(built.values())


def test_a_second_run_pushes_nothing_and_changes_nothing(remote: dict) -> None:
    again = deploy(remote)
    assert again.returncode == 0, again.failures()
    assert again.changed == 0
    assert pushed(again) == []
    assert again.results("Ask the registry which tags it holds")[0]["missing"] == []


def test_a_changed_source_pushes_one_new_tag(remote: dict, apps: client.AppsV1Api) -> None:
    (remote["contexts"] / "web" / "page.txt").write_text(f"web {remote['name']} 2\n")
    changed = deploy(remote)
    assert changed.returncode == 0, changed.failures()
    now = refs(changed)
    assert pushed(changed) == [now["web"]]
    assert now["api"] == refs(remote["first"])["api"]
    assert deployment_image(apps, remote, "web") == now["web"]


def test_a_wrong_password_fails_before_anything_is_built_or_applied(remote: dict, apps: client.AppsV1Api) -> None:
    before = deployment_image(apps, remote, "web")
    (remote["contexts"] / "web" / "page.txt").write_text(f"web {remote['name']} 3\n")
    wrong = f"not-the-password-{uuid.uuid4().hex}"
    refused = deploy(remote, "-vvv", SLIPWAY_REGISTRY_PASSWORD=wrong)
    assert refused.returncode != 0
    message = refused.failures()
    assert f"The registry {REGISTRY} refused the credentials of '{USERNAME}' (401 Unauthorized)" in message
    assert "image_build_registry_password" in message and "nothing was built or pushed" in message
    assert wrong not in printed(refused)
    assert refused.results("Build each image whose tag does not exist") == []
    assert deployment_image(apps, remote, "web") == before


def test_a_wrong_pull_secret_is_named_by_the_waiter_and_a_right_one_mends_it(remote: dict) -> None:
    # A new tag: the node has never pulled it, so it must pull now, with the pull Secret.
    (remote["contexts"] / "web" / "page.txt").write_text(f"web {remote['name']} 4\n")
    wrong = f"not-the-pull-password-{uuid.uuid4().hex}"
    failed = deploy(remote, SLIPWAY_REGISTRY_PULL_PASSWORD=wrong)
    assert failed.returncode != 0
    message = failed.failures()
    assert "deployment/web" in message
    assert "ImagePullBackOff" in message or "ErrImagePull" in message
    assert "401 Unauthorized" in message
    assert wrong not in printed(failed)
    assert pushed(failed) == [refs(failed)["web"]]

    mended = deploy(remote)
    assert mended.returncode == 0, mended.failures()
