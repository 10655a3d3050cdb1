"""The app model (plugins/module_utils/app_model.py) and the objects built from it
(app_manifests.py): defaults applied once, every problem named before a cluster is asked, and
the default app built as the Jinja templates built it (tests/unit/fixtures/golden, recorded from
them before they were replaced)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import jinja2
import pytest
import yaml

from ansible.module_utils import app_manifests, app_model
from ansible.module_utils.app_model import AppModelError

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
IMAGES = {"backend": "slipway/slipway-demo-backend:0123456789ab",
          "frontend": "slipway/slipway-demo-frontend:ba9876543210",
          "worker": "slipway/slipway-demo-backend:0123456789ab"}


def role_defaults() -> dict:
    """slipway_app's defaults as Ansible resolves them for the demo app (keys without the prefix)."""
    raw = yaml.safe_load((REPO / "roles" / "slipway_app" / "defaults" / "main.yml").read_text())
    context = {"role_path": str(REPO / "roles" / "slipway_app"), **raw}

    def resolve(value):
        if isinstance(value, str) and "{{" in value:
            return resolve(jinja2.Template(value).render(context))
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    return {key.removeprefix("slipway_app_"): resolve(value) for key, value in raw.items()}


def model_of(**changes) -> dict:
    """The model as the role builds it on a cluster whose platform was found: Kubernetes unless asked."""
    return app_model.app_model({**role_defaults(), "platform": "kubernetes", **changes},
                               path_exists=lambda path: Path(path).is_dir())


def problems_of(**changes) -> list[str]:
    with pytest.raises(AppModelError) as refused:
        model_of(**changes)
    return refused.value.problems


def components_with(index: int = 0, **change) -> list[dict]:
    components = copy.deepcopy(role_defaults()["components"])
    components[index].update(change)
    return components


def _unordered(obj):
    """Mounts, volumes and variables are matched by name: their order means nothing here. A
    null field (the templates' empty `env:`) is an absent one."""
    if isinstance(obj, dict):
        return {k: sorted(map(_unordered, v), key=lambda item: item["name"]) if k in ("volumeMounts", "volumes", "env")
                else _unordered(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_unordered(v) for v in obj]
    return obj


def _without_job_digest(obj: dict) -> dict:
    """The recorded Jobs' digest was of the template's text, ours is of the spec's JSON."""
    obj = copy.deepcopy(obj)
    if obj["kind"] == "Job" and obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "slipway":
        obj["metadata"]["name"] = obj["metadata"]["name"].rsplit("-", 1)[0]
    return obj


@pytest.mark.parametrize(("fixture", "changes", "replicas"), [
    ("default-app", {}, {}),
    ("placed-app", {"node_selector": {"slipway.dev/node": "real"},
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]},
     {"backend": 5}),
])
def test_the_default_app_is_built_as_the_templates_built_it(fixture: str, changes: dict, replicas: dict) -> None:
    model = model_of(**changes)
    built = ([app_manifests.namespace(model)] + app_manifests.app_objects(model, IMAGES, replicas)
             + [app_manifests.dump_job(model, "backup", "mongodb-backup-20261201-000000", "dump-20261201-000000",
                                       "mongodb-backups", 5, 600, 3600)])
    recorded = json.loads((GOLDEN / f"{fixture}.json").read_text())
    assert [f"{o['kind']}/{o['metadata']['name']}" for o in map(_without_job_digest, built)] == \
        [f"{o['kind']}/{o['metadata']['name']}" for o in map(_without_job_digest, recorded)]
    for ours, theirs in zip(built, recorded):
        assert differences(_unordered(_without_job_digest(ours)), _unordered(_without_job_digest(theirs))) == []


def differences(ours, theirs, path="") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [d for key in sorted(set(ours) | set(theirs), key=str)
                for d in differences(ours.get(key, "<absent>"), theirs.get(key, "<absent>"), f"{path}.{key}")]
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


def test_every_default_is_applied_once() -> None:
    bare = model_of(components=[{"name": "web", "image": "web:1", "port": 8080, "hpa": {"max_replicas": 4}}],
                    jobs=[{"name": "seed", "image_of": "web"}], common_env={})
    web = bare["components"][0]
    assert web["replicas"] == 1 and web["hpa"]["min_replicas"] == 1
    assert web["strategy"] == {"type": "RollingUpdate", "max_surge": 1, "max_unavailable": 0}
    assert web["env"] == {"LISTEN_PORT": "8080"} and web["host"] is None
    assert bare["jobs"][0]["backoff_limit"] == 3 and bare["jobs"][0]["active_deadline_seconds"] == 600
    deployment = app_manifests.component_objects(bare, {"web": "web:1"}, {})[0]
    assert deployment["spec"]["replicas"] == 1  # the HPA's minimum, from the same default


def test_an_empty_ingress_host_is_no_ingress_anywhere() -> None:
    # The templates rendered a rule for it that pruning then called unwanted.
    model = model_of(components=components_with(1, ingress_host=""))
    assert [c["name"] for c in model["components"] if c["host"]] == ["backend"]
    ingress = [o for o in app_manifests.edge_objects(model) if o["kind"] == "Ingress"][0]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == ["backend.localhost"]
    assert app_model.expected_objects(model, [])["Ingress"] == ["slipway-demo"]
    assert model["urls"] == ["http://backend.localhost/"]


def test_survey_strings_are_cast() -> None:
    # AWX survey answers arrive as strings.
    model = model_of(components=components_with(0, replicas="3", port="40001", mount_mongodb_secret="false"),
                     ingress_port="18080", redis={"enabled": "false", "image": "redis"})
    assert model["components"][0]["replicas"] == 3 and model["components"][0]["port"] == 40001
    assert model["components"][0]["mount_mongodb_secret"] is False
    assert [s["name"] for s in model["datastores"]] == ["mongodb"]
    assert model["urls"][0] == "http://backend.localhost:18080/"


@pytest.mark.parametrize(("changes", "named"), [
    ({"components": components_with(0, probes={"liveness": {"path": "/healthz", "command": ["true"]}})},
     "slipway_app_components[0] (backend).probes.liveness: give one of path, command or tcp_socket (got path, command)"),
    ({"components": components_with(1, ingress_host="Front End!")},
     "slipway_app_components[1] (frontend).ingress_host: 'Front End!.localhost' is not a DNS name"),
    ({"components": components_with(0, resources={"limits": {"memory": "256 MB"}})},
     "slipway_app_components[0] (backend).resources.limits.memory: '256 MB' is not a Kubernetes quantity"),
    ({"components": components_with(0, build={"target": "backend"})},
     "slipway_app_components[0] (backend).build.context is missing"),
    ({"components": components_with(0, build={"context": "/nowhere/app"})},
     "slipway_app_components[0] (backend).build.context: /nowhere/app is not a folder on the controller"),
    ({"components": components_with(0, port=70000)}, "slipway_app_components[0] (backend).port: 70000 is outside 1..65535"),
    ({"components": components_with(0, replicas=-1)}, "slipway_app_components[0] (backend).replicas: -1 is outside >= 0"),
    ({"components": components_with(0, strategy={"type": "BlueGreen"})},
     "slipway_app_components[0] (backend).strategy.type: 'BlueGreen' is not RollingUpdate or Recreate"),
    ({"components": components_with(0, strategy={"max_surge": "lots"})},
     "slipway_app_components[0] (backend).strategy.max_surge: 'lots' is not a count or a percentage"),
    ({"components": components_with(0, hpa={"min_replicas": 5, "max_replicas": 2})},
     "slipway_app_components[0] (backend).hpa.max_replicas: 2 is outside >= 5"),
    ({"components": components_with(0, hpa={"max_replicas": 2, "memory_average": "lots"})},
     "slipway_app_components[0] (backend).hpa.memory_average: 'lots' is not a Kubernetes quantity"),
    ({"components": components_with(0, name="Back_End")}, "slipway_app_components[0].name: 'Back_End' is not a DNS label"),
    ({"components": components_with(1, name="backend")}, "slipway_app_components[1] (backend).name: 'backend' is used twice"),
    ({"components": components_with(2, image_of="nowhere")},
     "slipway_app_components[2] (worker).image_of: no component named 'nowhere'"),
    ({"components": components_with(0, image="web:1")},
     "slipway_app_components[0] (backend): give exactly one of build, image or image_of (got ['build', 'image'])"),
    ({"components": components_with(2, ingress_host="worker")},
     "slipway_app_components[2] (worker).ingress_host needs a port to route to"),
    ({"components": components_with(0, replica=3)}, "slipway_app_components[0] (backend): unknown keys ['replica']"),
    ({"components": components_with(0, probes={"liveness": {"path": "healthz"}})},
     "slipway_app_components[0] (backend).probes.liveness.path: 'healthz' does not start with /"),
    ({"components": components_with(2, probes={"liveness": {"path": "/"}})},
     "slipway_app_components[2] (worker).probes.liveness: an HTTP or TCP probe needs a port"),
    ({"jobs": [{"name": "seed", "image_of": "nowhere"}]}, "slipway_app_jobs[0].image_of: no component named 'nowhere'"),
    ({"jobs": [{"name": "s" * 51, "image": "x"}]}, "is not a DNS label of at most 50 characters"),
    ({"mongodb": {"image": "mongo", "storage": "1 GB"}}, "slipway_app_mongodb.storage: '1 GB' is not a Kubernetes quantity"),
    ({"mongodb": {"enabled": True}}, "slipway_app_mongodb.image is missing"),
    ({"namespace": "My App"}, "slipway_app_namespace: 'My App' is not a DNS label"),
    ({"components": []}, "slipway_app_components: give at least one component"),
    ({"pod_security": "strict"}, "slipway_app_pod_security: 'strict' is not privileged, baseline or restricted"),
])
def test_each_problem_is_named_by_its_variable(changes: dict, named: str) -> None:
    assert any(named in problem for problem in problems_of(**changes)), problems_of(**changes)


def test_every_problem_is_reported_at_once() -> None:
    problems = " ".join(problems_of(components=components_with(0, port=0, replicas="two"), namespace=""))
    for named in ("slipway_app_namespace: ''", "(backend).port: 0 is outside", "(backend).replicas: 'two' is not"):
        assert named in problems


def test_the_kinds_are_listed_once() -> None:
    model = model_of()
    assert [k["kind"] for k in model["managed_kinds"]] == [
        "ConfigMap", "Service", "StatefulSet", "Deployment", "Ingress", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "Job"]
    assert model["workloads"] == {"backend": "Deployment", "frontend": "Deployment", "worker": "Deployment",
                                  "mongodb": "StatefulSet", "redis": "StatefulSet"}
    built = {o["kind"] for o in app_manifests.app_objects(model, IMAGES)}
    assert built <= set(app_model.expected_objects(model, ["x"]))
    # What slipway may do is derived from the same kinds.
    granted = {p["resource"] for p in app_model.permissions(model)}
    assert {k["plural"] for k in model["managed_kinds"]} <= granted


def test_images_to_build_and_to_load() -> None:
    model = model_of(mongodb={"image": "mongo:6", "tools_image": "tools:1"})
    assert [i["name"] for i in app_model.build_images(model)] == ["backend", "frontend"]
    assert app_model.build_images(model)[0]["repository"] == "slipway/slipway-demo-backend"
    assert app_model.prebuilt_images(model) == ["mongo:6", "redis:7.0.11-alpine", "tools:1"]
    assert app_model.image_refs(model, {"backend": "b:1", "frontend": "f:1"}) == {
        "backend": "b:1", "frontend": "f:1", "worker": "b:1"}


def test_a_job_is_renamed_only_when_what_it_runs_changes() -> None:
    model = model_of()
    first = app_manifests.job_objects(model, IMAGES)[0]["metadata"]["name"]
    assert app_manifests.job_objects(copy.deepcopy(model), dict(IMAGES))[0]["metadata"]["name"] == first
    newer = app_manifests.job_objects(model, {**IMAGES, "backend": "slipway/slipway-demo-backend:fff"})
    assert newer[0]["metadata"]["name"] != first and newer[0]["metadata"]["name"].startswith("add-test-content-")


REAL_APP = [{
    "name": "web", "image": "shop/web:1", "port": 8080, "replicas": 3,
    "labels": {"team": "shop"}, "annotations": {"owner": "shop@example.com"},
    "pod_annotations": {"sidecar.istio.io/inject": "false"},
    "ports": [{"name": "metrics", "port": 9100}],
    "service": {"type": "NodePort", "node_port": 30080, "annotations": {"prometheus.io/scrape": "true"}},
    "ingress_host": "www", "ingress_paths": [{"path": "/"}, {"path": "/api", "path_type": "Exact"}],
    "env": {"MODE": "prod", "DB_PASSWORD": {"secret": "shop-db", "key": "password"},
            "FLAGS": {"config_map": "flags", "key": "all"}},
    "env_from": [{"config_map": "shop-settings"}, {"secret": "shop-keys", "prefix": "KEY_"}],
    "files": [{"path": "/etc/shop/app.yml", "content": "mode: prod\n"}],
    "volumes": [{"name": "cache", "mount_path": "/var/cache/shop", "source": {"emptyDir": {"medium": "Memory"}}}],
    "node_selector": {"disk": "ssd"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"}],
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
    "topology_spread": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}],
    "pdb": {"min_available": 2},
    "service_account": "shop-web", "automount_service_account_token": True,
    "init_containers": [{"name": "migrate", "command": ["./manage", "migrate"]}],
    "image_pull_secrets": ["shop-registry"],
}]


def real_app(**changes) -> dict:
    return model_of(**{"components": copy.deepcopy(REAL_APP), "jobs": [], "mongodb": {"enabled": False},
                       "redis": {"enabled": False}, "common_env": {},
                       "ingress_annotations": {"nginx.ingress.kubernetes.io/from-to-www-redirect": "true"},
                       "ingress_tls_secret": "shop-tls", "image_pull_secrets": ["shared-registry"],
                       "secrets": {"shop-db": {"password": "s3cret"}}, **changes})


def test_what_a_real_app_needs_is_built() -> None:
    model = real_app()
    objects = {app_deploy_ref(o): o for o in app_manifests.app_objects(model, {"web": "shop/web:1"})}
    assert sorted(objects) == ["ConfigMap/web-files", "Deployment/web", "Ingress/slipway-demo",
                               "PodDisruptionBudget/web", "Service/web"]
    deployment = objects["Deployment/web"]
    assert deployment["metadata"]["labels"]["team"] == "shop"
    assert deployment["metadata"]["annotations"] == {"owner": "shop@example.com"}
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    assert template["metadata"]["annotations"][app_manifests.FILES_DIGEST]
    pod = template["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["DB_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "shop-db", "key": "password"}}
    assert env["FLAGS"]["valueFrom"] == {"configMapKeyRef": {"name": "flags", "key": "all"}}
    assert env["MODE"]["value"] == "prod"
    assert container["envFrom"] == [{"configMapRef": {"name": "shop-settings"}},
                                    {"prefix": "KEY_", "secretRef": {"name": "shop-keys"}}]
    assert {"name": "metrics", "containerPort": 9100} in container["ports"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/shop/app.yml"] == {"name": "files", "mountPath": "/etc/shop/app.yml", "subPath": "app.yml",
                                           "readOnly": True}
    assert mounts["/var/cache/shop"]["name"] == "cache"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["cache"] == {"name": "cache", "emptyDir": {"medium": "Memory"}}
    assert volumes["files"] == {"name": "files", "configMap": {"name": "web-files"}}
    assert pod["nodeSelector"] == {"disk": "ssd"} and pod["tolerations"][0]["key"] == "dedicated"
    assert "podAntiAffinity" in pod["affinity"]
    assert pod["topologySpreadConstraints"][0]["labelSelector"] == {"matchLabels": app_manifests.selector(model, "web")}
    assert pod["serviceAccountName"] == "shop-web" and pod["automountServiceAccountToken"] is True
    assert pod["imagePullSecrets"] == [{"name": "shared-registry"}, {"name": "shop-registry"}]
    init = pod["initContainers"][0]
    assert init["image"] == "shop/web:1" and init["securityContext"]["readOnlyRootFilesystem"] is True
    service = objects["Service/web"]
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30080
    assert service["spec"]["ports"][1] == {"name": "metrics", "port": 9100, "targetPort": "metrics"}
    assert service["metadata"]["annotations"] == {"prometheus.io/scrape": "true"}
    ingress = objects["Ingress/slipway-demo"]
    assert ingress["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/from-to-www-redirect": "true"}
    assert ingress["spec"]["tls"] == [{"hosts": ["www.localhost"], "secretName": "shop-tls"}]
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/", "/api"]
    assert objects["PodDisruptionBudget/web"]["spec"]["minAvailable"] == 2
    assert objects["ConfigMap/web-files"]["data"] == {"app.yml": "mode: prod\n"}
    assert model["urls"] == ["https://www.localhost/"]
    assert app_model.expected_objects(model, [])["ConfigMap"] == ["web-files"]


def test_a_changed_file_rolls_the_pods() -> None:
    first = real_app()
    changed = copy.deepcopy(REAL_APP)
    changed[0]["files"][0]["content"] = "mode: debug\n"
    second = real_app(components=changed)

    def files_digest(model):
        deployment = app_manifests.component_objects(model, {"web": "shop/web:1"}, {})[1]
        return deployment["spec"]["template"]["metadata"]["annotations"][app_manifests.FILES_DIGEST]

    assert files_digest(first) != files_digest(second)


def test_user_secret_values_stay_out_of_the_model() -> None:
    model = real_app()
    assert model["secrets"] == {"shop-db": ["password"]}
    assert "s3cret" not in json.dumps(model)
    secret = app_manifests.user_secrets(model, {"shop-db": {"password": "s3cret"}})[0]
    assert secret["metadata"]["name"] == "shop-db" and secret["data"] == {"password": "czNjcmV0"}


def test_patches_change_what_is_rendered() -> None:
    model = real_app(patches=[
        {"kind": "Deployment", "name": "web",
         "merge": {"spec": {"template": {"spec": {"containers": [{"name": "web", "stdin": True}],
                                                  "priorityClassName": "high"}}}}},
        {"kind": "Service", "name": "web", "json": [{"op": "replace", "path": "/spec/type", "value": "LoadBalancer"},
                                                    {"op": "remove", "path": "/spec/ports/1"}]},
    ])
    objects = {app_deploy_ref(o): o for o in app_manifests.app_objects(model, {"web": "shop/web:1"})}
    pod = objects["Deployment/web"]["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "high"
    assert pod["containers"][0]["stdin"] is True and pod["containers"][0]["image"] == "shop/web:1"
    assert objects["Service/web"]["spec"]["type"] == "LoadBalancer"
    assert len(objects["Service/web"]["spec"]["ports"]) == 1


def test_a_patched_job_is_named_by_what_it_runs_patched() -> None:
    def job(patches: list) -> dict:
        model = real_app(jobs=[{"name": "seed", "image_of": "web"}], patches=patches)
        return next(o for o in app_manifests.app_objects(model, {"web": "shop/web:1"}) if o["kind"] == "Job")

    plain = job([])
    merged = job([{"kind": "Job", "name": "seed", "merge": {"spec": {"backoffLimit": 0}}}])
    # A Job's template is immutable: the patched one is a new Job, beside the unpatched name.
    assert merged["spec"]["backoffLimit"] == 0
    assert merged["metadata"]["name"].startswith("seed-") and merged["metadata"]["name"] != plain["metadata"]["name"]
    assert merged["metadata"]["name"] == app_manifests.job_name("seed", merged["spec"])
    # A second patch of the same Job finds it by its base name, and names it anew.
    twice = job([{"kind": "Job", "name": "seed", "merge": {"spec": {"backoffLimit": 0}}},
                 {"kind": "Job", "name": "seed", "json": [{"op": "replace", "path": "/spec/activeDeadlineSeconds",
                                                           "value": 60}]}])
    assert twice["spec"]["activeDeadlineSeconds"] == 60
    assert twice["metadata"]["name"] == app_manifests.job_name("seed", twice["spec"]) != merged["metadata"]["name"]


def test_a_patch_of_nothing_rendered_is_named() -> None:
    model = real_app(patches=[{"kind": "Deployment", "name": "api", "merge": {"spec": {}}}])
    with pytest.raises(app_manifests.PatchError, match=r"slipway_app_patches\[0\]: the app renders no Deployment/api"):
        app_manifests.app_objects(model, {"web": "shop/web:1"})


@pytest.mark.parametrize(("change", "named"), [
    ({"labels": {"app.kubernetes.io/name": "x"}}, "(web).labels.app.kubernetes.io/name: labels under"),
    ({"service": {"type": "External"}}, "(web).service.type: 'External' is not one of"),
    ({"service": {"node_port": 30080}}, "(web).service.node_port needs service.type NodePort"),
    ({"ports": [{"name": "http", "port": 1}]}, "(web).ports[0].name: 'http' is not a port name"),
    ({"env": {"X": {"secret": "s"}}}, "(web).env.X: give secret or config_map, and key"),
    ({"env_from": [{"vault": "x"}]}, "(web).env_from[0]: unknown keys ['vault']"),
    ({"volumes": [{"name": "tmp", "mount_path": "/x", "source": {"emptyDir": {}}}]}, "(web).volumes[0].name: 'tmp'"),
    ({"volumes": [{"name": "v", "mount_path": "x", "source": {}}]}, "(web).volumes[0].mount_path: give an absolute"),
    ({"files": [{"path": "app.yml", "content": ""}]}, "(web).files[0].path: 'app.yml' is not an absolute file path"),
    ({"pdb": {"min_available": 1, "max_unavailable": 1}}, "(web).pdb: give min_available or max_unavailable"),
    ({"ingress_paths": [{"path": "api"}]}, "(web).ingress_paths[0].path: give a path starting with /"),
    ({"tolerations": {"key": "x"}}, "(web).tolerations: expected a list of mappings"),
])
def test_each_real_app_problem_is_named(change: dict, named: str) -> None:
    components = copy.deepcopy(REAL_APP)
    components[0].update(change)
    with pytest.raises(AppModelError) as refused:
        real_app(components=components)
    assert any(named in problem for problem in refused.value.problems), refused.value.problems


def test_bad_app_level_extras_are_named() -> None:
    with pytest.raises(AppModelError) as refused:
        real_app(secrets={"mongodb": {"x": "y"}}, patches=[{"kind": "Pod", "name": "x", "merge": {}},
                                                             {"kind": "Service", "name": "web", "json": [{"op": "move"}]}])
    problems = " ".join(refused.value.problems)
    assert "slipway_app_secrets.mongodb: not a Secret name of the user's own" in problems
    assert "slipway_app_patches[0].kind: 'Pod' is not a kind slipway renders" in problems
    assert "slipway_app_patches[1].json[0]: give op" in problems


def app_deploy_ref(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


SPECS = yaml.safe_load((REPO / "roles" / "slipway_app" / "meta" / "argument_specs.yml").read_text())[
    "argument_specs"]["main"]["options"]


def test_the_argument_specs_and_the_model_know_the_same_keys_and_defaults() -> None:
    components = SPECS["slipway_app_components"]["options"]
    jobs = SPECS["slipway_app_jobs"]["options"]
    assert set(components) == app_model.COMPONENT_KEYS
    assert set(jobs) == app_model.JOB_KEYS
    assert set(components["build"]["options"]) == app_model.BUILD_KEYS
    assert set(components["probes"]["options"]) == set(app_model.PROBE_KINDS)
    assert set(components["hpa"]["options"]) == app_model.HPA_KEYS
    assert set(components["service"]["options"]) == app_model.SERVICE_KEYS
    assert set(components["strategy"]["options"]) == set(app_model.DEFAULT_STRATEGY)
    assert {k: v["default"] for k, v in components["strategy"]["options"].items()} == app_model.DEFAULT_STRATEGY
    assert components["replicas"]["default"] == app_model.DEFAULT_REPLICAS
    assert components["hpa"]["options"]["min_replicas"]["default"] == app_model.DEFAULT_HPA_MIN_REPLICAS
    assert jobs["backoff_limit"]["default"] == app_model.DEFAULT_JOB_BACKOFF_LIMIT
    assert jobs["active_deadline_seconds"]["default"] == app_model.DEFAULT_JOB_DEADLINE_SECONDS
    assert set(SPECS["slipway_app_mongodb"]["options"]) | set(SPECS["slipway_app_redis"]["options"]) <= \
        app_model.DATASTORE_KEYS
    # Every variable the model reads is a documented one.
    read = {"name", "namespace", "ingress_domain", "ingress_class", "ingress_port", "pod_security", "node_selector",
            "tolerations", "image_pull_policy", "mongodb", "redis", "common_env", "components", "jobs",
            "ingress_annotations", "ingress_tls_secret", "image_pull_secrets", "registry_pull_secret", "patches",
            "secrets", "platform", "project_display_name", "project_description"}
    assert {f"slipway_app_{key}" for key in read} <= set(SPECS)
    role_tasks = (REPO / "roles" / "slipway_app" / "tasks" / "main.yml").read_text()
    # The platform, once found for the run (by this role or the preflight), is read in its place.
    assert all(f"'{key}': slipway_app_{key}" in role_tasks for key in read - {"platform"})
    assert "'platform': slipway_app_platform_found | default(cluster_preflight_platform_found)" in role_tasks


def test_the_registry_pull_secret_is_rendered_from_the_credentials_and_every_pod_uses_it() -> None:
    model = real_app(registry_pull_secret="shop-pull")
    assert model["image_pull_secrets"] == ["shared-registry", "shop-pull"]
    objects = app_manifests.app_objects(model, {"web": "shop/web:1"})
    pod = {app_deploy_ref(o): o for o in objects}["Deployment/web"]["spec"]["template"]
    assert pod["spec"]["imagePullSecrets"] == [{"name": "shared-registry"}, {"name": "shop-pull"},
                                               {"name": "shop-registry"}]
    secret = app_manifests.registry_pull_secret(model, {"server": "registry.example.com:5000/shop", "username": "ci",
                                                        "password": "p@ss"})
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["name"] == "shop-pull"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    # Keyed by the registry's host and port: the path is not part of a registry's name.
    assert config == {"auths": {"registry.example.com:5000": {
        "username": "ci", "password": "p@ss", "auth": base64.b64encode(b"ci:p@ss").decode()}}}
    again = app_manifests.registry_pull_secret(model, {"server": "registry.example.com:5000/shop", "username": "ci",
                                                       "password": "p@ss"})
    assert again == secret


@pytest.mark.parametrize("name", ["mongodb", "shop-db", "Not_A_Name"])
def test_the_registry_pull_secret_needs_a_name_of_its_own(name: str) -> None:
    with pytest.raises(AppModelError) as refused:
        real_app(registry_pull_secret=name)
    assert "slipway_app_registry_pull_secret" in str(refused.value)


@pytest.mark.parametrize(("requested", "groups", "platform"), [
    ("auto", {"apps", "route.openshift.io", "security.openshift.io"}, "openshift"),
    # A Route CRD alone (some ingress controllers install one) is not OpenShift.
    ("auto", {"apps", "route.openshift.io"}, "kubernetes"),
    ("auto", {"apps"}, "kubernetes"),
    ("kubernetes", {"route.openshift.io", "security.openshift.io"}, "kubernetes"),
    ("openshift", {"route.openshift.io"}, "openshift"),
])
def test_the_platform_is_found_from_the_api_groups(requested: str, groups: set, platform: str) -> None:
    assert app_model.platform_of(requested, groups) == platform


def test_openshift_asked_of_a_cluster_without_routes_is_refused() -> None:
    with pytest.raises(app_model.PlatformError, match="serves no route.openshift.io"):
        app_model.platform_of("openshift", {"apps"})


def test_on_openshift_pods_name_no_uid_and_hosts_get_routes_instead_of_the_ingress() -> None:
    model = model_of(platform="openshift")
    objects = app_manifests.app_objects(model, IMAGES) + [app_manifests.dump_job(
        model, "backup", "mongodb-backup-1", "dump-1", "mongodb-backups", 5, 600, 3600)]
    kinds = {o["kind"] for o in objects}
    assert "Ingress" not in kinds and "Route" in kinds
    templates = [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    # Three components, two data stores, the seed Job and the backup Job.
    assert len(templates) == 7
    for pod in templates:
        assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        for container in pod["containers"] + pod.get("initContainers", []):
            assert "runAsUser" not in container["securityContext"]
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    routes = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Route"}
    assert routes == {name: {"host": f"{name}.{model['ingress']['domain']}",
                             "to": {"kind": "Service", "name": name, "weight": 100},
                             "port": {"targetPort": "http"},
                             "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
                             "wildcardPolicy": "None"} for name in ("backend", "frontend")}
    assert [k["kind"] for k in model["managed_kinds"]] == [
        "ConfigMap", "Service", "StatefulSet", "Deployment", "Route", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "Job"]
    assert sorted(app_model.expected_objects(model, [])["Route"]) == ["backend", "frontend"]


def test_a_route_per_path_is_rendered_and_kept_by_pruning() -> None:
    model = model_of(platform="openshift", components=components_with(
        1, ingress_paths=[{"path": "/"}, {"path": "/api", "path_type": "Prefix"}]))
    rendered = {o["metadata"]["name"]: o["spec"] for o in app_manifests.app_objects(model, IMAGES) if o["kind"] == "Route"}
    assert sorted(rendered) == ["backend", "frontend-0", "frontend-1"]
    assert rendered["frontend-1"]["path"] == "/api" and "path" not in rendered["frontend-0"]
    assert sorted(app_model.expected_objects(model, [])["Route"]) == sorted(rendered)


def test_each_platform_asks_for_its_own_permissions() -> None:
    def resources(granted: list[dict]) -> set[str]:
        return {(p.get("group", ""), p["resource"], p.get("subresource", ""), bool(p.get("cluster")),
                 bool(p.get("creates_namespace")), tuple(p["verbs"])) for p in granted}

    kubernetes, openshift = model_of(), model_of(platform="openshift")
    # Edges are watched too: the teardown follows what it deletes until it is gone.
    writes = ("get", "list", "watch", "create", "patch", "delete")
    # Kubernetes: the namespace is slipway's to make and label; OpenShift: a project is only
    # read, and requested when it is not there.
    only_kubernetes = {("", "namespaces", "", True, False, ("get", "create", "patch")),
                       ("networking.k8s.io", "ingresses", "", False, False, writes)}
    only_openshift = {("", "namespaces", "", False, False, ("get",)),
                      ("project.openshift.io", "projectrequests", "", True, True, ("create",)),
                      ("route.openshift.io", "routes", "", False, False, writes),
                      ("route.openshift.io", "routes", "custom-host", False, False, ("create",))}
    assert resources(app_model.permissions(kubernetes)) >= only_kubernetes
    assert resources(app_model.permissions(openshift)) >= only_openshift
    assert resources(app_model.permissions(kubernetes)) & only_openshift == set()
    assert resources(app_model.permissions(openshift)) & only_kubernetes == set()
    assert resources(app_model.permissions(kubernetes)) - only_kubernetes == \
        resources(app_model.permissions(openshift)) - only_openshift
    # Made before the platform is known, the list holds both; the preflight keeps the found one's.
    unresolved = app_model.permissions(model_of(platform="auto"))
    for platform, model in (("kubernetes", kubernetes), ("openshift", openshift)):
        assert app_model.permissions_on(unresolved, platform) == app_model.permissions(model)


def test_a_project_is_requested_with_what_the_variables_say_of_it() -> None:
    assert app_manifests.project_request(model_of(platform="openshift")) == {
        "apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": "slipway-demo"}}
    described = model_of(platform="openshift", project_display_name="Shop", project_description="The shop's app")
    assert app_manifests.project_request(described) == {
        "apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": "slipway-demo"},
        "displayName": "Shop", "description": "The shop's app"}


def test_an_unresolved_platform_is_never_rendered() -> None:
    with pytest.raises(ValueError, match="resolve it"):
        app_manifests.app_objects(model_of(platform="auto"), IMAGES)
    assert app_model.with_platform(model_of(platform="auto"), "openshift")["managed_kinds"] == \
        model_of(platform="openshift")["managed_kinds"]
