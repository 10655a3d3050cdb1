"""The app description's checks, image resolution and pruning decisions."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("app_spec", REPO / "plugins" / "filter" / "app_spec.py")
app_spec = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app_spec)

DEFAULTS = yaml.safe_load((REPO / "roles" / "slipway_app" / "defaults" / "main.yml").read_text())


@pytest.fixture
def components() -> list[dict]:
    return copy.deepcopy(DEFAULTS["slipway_app_components"])


def test_the_default_app_is_valid(components: list[dict]) -> None:
    assert app_spec.app_spec_errors(components, DEFAULTS["slipway_app_jobs"]) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"port": 70000}, "slipway_app_components[0] (backend).port: 70000 is outside 1..65535"),
        ({"port": "http"}, "slipway_app_components[0] (backend).port: 'http' is not a whole number"),
        ({"replicas": -1}, "slipway_app_components[0] (backend).replicas: -1 is outside >= 0"),
        ({"name": "Backend_1"}, "is not a DNS label"),
        ({"strategy": {"type": "BlueGreen"}}, "strategy.type: 'BlueGreen' is not RollingUpdate or Recreate"),
        ({"strategy": {"max_surge": "lots"}}, "strategy.max_surge: 'lots' is not a count or a percentage"),
        ({"strategy": {"surge": 1}}, "strategy: unknown keys ['surge']"),
        ({"hpa": {"min_replicas": 5, "max_replicas": 2}}, "hpa.max_replicas: 2 is outside >= 5"),
        ({"image": "x:1"}, "give exactly one of build, image or image_of"),
    ],
)
def test_each_problem_names_its_variable(components: list[dict], change: dict, message: str) -> None:
    components[0].update(change)
    errors = app_spec.app_spec_errors(components)
    assert any(message in error for error in errors), errors


def test_missing_name_duplicates_and_dangling_references(components: list[dict]) -> None:
    components[1]["name"] = "backend"
    del components[2]["name"]
    errors = app_spec.app_spec_errors(components, [{"name": "seed", "image_of": "nowhere"}])
    assert "slipway_app_components[1] (backend).name: 'backend' is used twice" in errors
    assert "slipway_app_components[2].name is missing" in errors
    assert "slipway_app_jobs[0].image_of: no component named 'nowhere'" in errors


def test_an_ingress_host_needs_a_port(components: list[dict]) -> None:
    components[2]["ingress_host"] = "worker"
    assert "slipway_app_components[2] (worker).ingress_host needs a port to route to" in app_spec.app_spec_errors(components)


def test_build_images_and_image_resolution(components: list[dict]) -> None:
    builds = app_spec.app_build_images(components, "shop")
    assert [(b["name"], b["repository"], b["target"]) for b in builds] == [
        ("backend", "slipway/shop-backend", "backend"),
        ("frontend", "slipway/shop-frontend", "frontend"),
    ]
    components.append({"name": "cron", "image": "registry.example/cron:7"})
    images = app_spec.app_images(components, {"backend": "b:1", "frontend": "f:1"})
    assert images == {"backend": "b:1", "frontend": "f:1", "worker": "b:1", "cron": "registry.example/cron:7"}


def test_prebuilt_images_are_the_components_own_and_the_enabled_data_stores(components: list[dict]) -> None:
    components[0] = {**components[0], "image": "registry/shop-api:1.2"}
    mongodb, redis = DEFAULTS["slipway_app_mongodb"], DEFAULTS["slipway_app_redis"]
    assert app_spec.app_prebuilt_images(components, [mongodb, redis]) == \
        ["mongo:6.0.6", "redis:7.0.11-alpine", "registry/shop-api:1.2"]
    # The backup and restore Jobs' own image (the sandbox's) goes to the nodes too.
    tools = {**mongodb, "tools_image": "slipway/mongo-tools:bookworm-0123456789ab"}
    assert app_spec.app_prebuilt_images([], [tools, {**redis, "enabled": False}]) == \
        ["mongo:6.0.6", "slipway/mongo-tools:bookworm-0123456789ab"]
    assert app_spec.app_prebuilt_images([], [{**tools, "enabled": "false"}]) == []


def test_pruning_keeps_what_is_described_and_never_touches_other_kinds(components: list[dict]) -> None:
    expected = app_spec.app_expected_objects(components, ["mongodb", "redis"], ["seed-abc"], "demo")
    assert expected["Service"] == ["backend", "frontend", "mongodb", "redis"]
    assert expected["HorizontalPodAutoscaler"] == ["backend"]
    assert expected["Ingress"] == ["demo"]

    def obj(kind: str, name: str) -> dict:
        return {"kind": kind, "metadata": {"name": name}}

    live = [obj("Deployment", "backend"), obj("Deployment", "old-api"), obj("Job", "seed-abc"),
            obj("Job", "seed-old"), obj("PersistentVolumeClaim", "data-mongodb-0"), obj("Secret", "mongodb")]
    assert app_spec.prunable_objects(live, expected) == [obj("Deployment", "old-api"), obj("Job", "seed-old")]


def test_workload_summary() -> None:
    deployment = {
        "kind": "Deployment", "metadata": {"name": "backend"}, "spec": {"replicas": 2, "template": {
            "spec": {"containers": [{"image": "slipway/demo-backend:abc"}]}}},
        "status": {"readyReplicas": 1},
    }
    assert app_spec.workload_summary(deployment) == "deployment/backend: 1/2 ready, slipway/demo-backend:abc"
