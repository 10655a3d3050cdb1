"""Shared fixtures: the sandbox cluster's API and Docker engine, and a fresh namespace per test.

Tests run against the real sandbox (`make sandbox-up`); KUBECONFIG and DOCKER_HOST come from
`make sandbox-env`, which `make test` evaluates.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator

import ansible.module_utils
import pytest
from kubernetes import client, config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Our module_utils import each other as Ansible does (`ansible.module_utils.NAME`); tests
# import them the same way.
ansible.module_utils.__path__.append(os.path.join(REPO, "plugins", "module_utils"))
# The sandbox's own facts (where kwok's nodes are, its ports) come from its package.
sys.path.insert(0, os.path.join(REPO, "sandbox"))


@pytest.fixture(scope="session")
def api_client() -> client.ApiClient:
    if not os.environ.get("KUBECONFIG"):
        pytest.fail("KUBECONFIG is not set: run the tests with `make test`, or eval \"$(make -s sandbox-env)\"")
    return config.new_client_from_config(config_file=os.environ["KUBECONFIG"])


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="session")
def batch(api_client: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api_client)


@pytest.fixture
def namespace(core: client.CoreV1Api, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own, deleted afterwards (without waiting for it to go)."""
    readable = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    name = f"{readable}-{uuid.uuid4().hex[:6]}"
    labels = getattr(request, "param", None) or {}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    yield name
    core.delete_namespace(name)


# The files that take longest (each holds tests sharing one deployment, minutes of rollouts),
# measured with --durations: collected first, so the workers start on them and no long file is
# left running alone at the end of `make test`.
LONGEST_FIRST = ("tests/integration/test_runbooks.py", "tests/integration/test_site.py",
                 "tests/integration/test_site_updates.py", "tests/integration/test_ee_jobs.py",
                 "tests/integration/test_rollout_wait.py", "tests/integration/test_openshift.py",
                 "tests/integration/test_registry.py", "tests/integration/test_rollout_wait_real.py",
                 "tests/integration/test_minikube_start.py", "tests/integration/test_image_build.py",
                 "tests/integration/test_openshift_projects.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: position for position, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
