"""The least-privilege deployer the tests act as: granted by playbooks/deployer-rbac.yml (as a
cluster admin runs it once), its token read back from the Secret it makes, and revoked; and the
tiny two-component app the remote-path tests build, push and pull."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from kubernetes import client

from kubewait import wait_for
from playbook import run_playbook
from realnode import node_image

DEPLOYER = "slipway-deployer"
TINY_COMPONENTS = ("web", "api")


def grant_deployer(core: client.CoreV1Api, variables: dict[str, Any], home: str = "") -> str:
    """Run deployer-rbac.yml with `variables`; the token of the ServiceAccount it makes in `home`
    (default: the app's namespace)."""
    granted = run_playbook("playbooks/deployer-rbac.yml", variables)
    assert granted.returncode == 0, granted.failures()
    secret = wait_for(core.list_namespaced_secret, lambda s: bool((s.data or {}).get("token")),
                      namespace=home or variables["slipway_app_namespace"],
                      field_selector=f"metadata.name={DEPLOYER}-token")
    return base64.b64decode(secret.data["token"]).decode()


def revoke_deployer(api_client: client.ApiClient, home: str) -> None:
    """Delete the cluster-wide grant deployer-rbac.yml made for the deployer living in `home`."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.delete_cluster_role_binding(f"{DEPLOYER}:{home}")
    rbac.delete_cluster_role(f"{DEPLOYER}:{home}")


def tiny_component(name: str, context: Path) -> dict[str, Any]:
    """The node's Python base serving the page its build context adds."""
    return {"name": name, "build": {"context": str(context), "build_args": {"BASE_IMAGE": node_image()}},
            "port": 8080, "replicas": 1, "command": ["/usr/bin/python3", "-m", "http.server", "8080", "-d", "/srv"],
            "probes": {"readiness": {"path": "/page.txt"}},
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}}}


def tiny_app(name: str, contexts: Path) -> dict[str, Any]:
    """The variables of a two-component app in namespace `name`, each component a build context of
    its own under `contexts` whose page names the app: an image ID of this run's own, one the node
    never had loaded (see the README on the kubelet's check of pulled images)."""
    for each in TINY_COMPONENTS:
        (contexts / each).mkdir()
        (contexts / each / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY page.txt /srv/page.txt\n")
        (contexts / each / "page.txt").write_text(f"{each} {name} 1\n")
    return {"slipway_app_namespace": name, "slipway_app_name": name,
            "slipway_app_components": [tiny_component(each, contexts / each) for each in TINY_COMPONENTS],
            "slipway_app_jobs": [], "slipway_app_mongodb": {"enabled": False}, "slipway_app_redis": {"enabled": False}}
