"""Fixtures of the integration tests that deploy the demo app with site.yml."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from playbook import run_playbook


@pytest.fixture(scope="module")
def app(core: client.CoreV1Api) -> dict:
    """A deployment of the demo app in a namespace of this module's own."""
    name = f"site-{uuid.uuid4().hex[:6]}"
    # Hosts of its own (frontend.<name>.localhost): other deployments share the Ingress controller.
    variables = {"slipway_app_namespace": name, "slipway_app_name": name,
                 "slipway_app_ingress_domain": f"{name}.localhost"}
    first = run_playbook("site.yml", variables)
    assert first.returncode == 0, first.stderr + str(first.output["stats"])
    yield {"vars": variables, "namespace": name, "first": first}
    core.delete_namespace(name)
