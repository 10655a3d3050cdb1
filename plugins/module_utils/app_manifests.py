# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes objects of an app model (app_model.py), built in one place.

One pod-spec builder serves components, data stores, the seed Jobs, the runbooks' dump Jobs
and run-job: every pod slipway makes passes the `restricted` Pod Security level the same way.
Pure: objects in, objects out.
"""

from __future__ import annotations

import hashlib
import json

from ansible.module_utils.app_model import (
    DEPLOYMENT, HPA, INGRESS, JOB, MANAGED_BY, MONGODB_SECRET, MONGODB_SECRET_KEY,
    MONGODB_SECRET_PATH, NAMESPACE, SECRET, SERVICE, STATEFULSET)

POD_SECURITY_MODES = ("enforce", "audit", "warn")
REVISION_HISTORY_LIMIT = 5
PROGRESS_DEADLINE_SECONDS = 600


def labels(model: dict, name: str, component: str, image: str = "", managed_by: str = MANAGED_BY) -> dict:
    """The recommended labels; `version` is the image's tag (a content digest for built ones)."""
    result = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": model["name"],
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": model["name"],
        "app.kubernetes.io/managed-by": managed_by,
    }
    if image:
        result["app.kubernetes.io/version"] = image.rsplit(":", 1)[-1][:63] if ":" in image else image[:63]
    return result


def selector(model: dict, name: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": model["name"]}


def _metadata(model: dict, name: str, object_labels: dict) -> dict:
    return {"name": name, "namespace": model["namespace"], "labels": object_labels}


def _probe(probe: dict) -> dict:
    if "command" in probe:
        action = {"exec": {"command": probe["command"]}}
    elif probe.get("tcp_socket"):
        action = {"tcpSocket": {"port": probe["port"]}}
    else:
        action = {"httpGet": {"path": probe["path"], "port": probe["port"]}}
    return {**action, "periodSeconds": probe["period_seconds"], "timeoutSeconds": probe["timeout_seconds"],
            "failureThreshold": probe["failure_threshold"]}


def pod_spec(model: dict, workload: dict, image: str, restart_policy: str = "Always",
             container_name: str | None = None, extra_mounts: list | None = None,
             extra_volumes: list | None = None) -> dict:
    """A pod spec for a component, a data store or a Job: non-root, no privilege escalation,
    no capabilities, RuntimeDefault seccomp, read-only root with a writable /tmp.

    `workload` is a model entry (command, args, env, port, probes, resources, run_as_user,
    data_path, claim, mount_mongodb_secret)."""
    uid = workload["run_as_user"]
    container = {"name": container_name or workload["name"], "image": image,
                 "imagePullPolicy": model["image_pull_policy"]}
    if workload.get("command") is not None:
        container["command"] = workload["command"]
    if workload.get("args") is not None:
        container["args"] = workload["args"]
    if workload["env"]:
        container["env"] = [{"name": key, "value": value} for key, value in sorted(workload["env"].items())]
    if workload.get("port") is not None:
        container["ports"] = [{"name": "http", "containerPort": workload["port"]}]
    for kind, probe in workload.get("probes", {}).items():
        container[f"{kind}Probe"] = _probe(probe)
    if workload.get("resources"):
        container["resources"] = workload["resources"]
    container["securityContext"] = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes = [{"name": "tmp", "emptyDir": {}}]
    if workload.get("data_path"):
        mounts.append({"name": "data", "mountPath": workload["data_path"]})
        if not workload.get("claim"):
            volumes.append({"name": "data", "emptyDir": {}})
    if workload.get("mount_mongodb_secret"):
        mounts.append({"name": "mongodb-secret", "mountPath": MONGODB_SECRET_PATH, "readOnly": True})
        volumes.append({"name": "mongodb-secret", "secret": {"secretName": MONGODB_SECRET, "defaultMode": 0o440}})
    container["volumeMounts"] = mounts + list(extra_mounts or [])
    spec = {"automountServiceAccountToken": False, "restartPolicy": restart_policy}
    if model["placement"]["node_selector"]:
        spec["nodeSelector"] = model["placement"]["node_selector"]
    if model["placement"]["tolerations"]:
        spec["tolerations"] = model["placement"]["tolerations"]
    spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
                               "seccompProfile": {"type": "RuntimeDefault"}}
    spec["containers"] = [container]
    spec["volumes"] = volumes + list(extra_volumes or [])
    return spec


def namespace(model: dict) -> dict:
    object_labels = labels(model, model["name"], "namespace")
    for mode in POD_SECURITY_MODES:
        object_labels[f"pod-security.kubernetes.io/{mode}"] = model["pod_security"]
        object_labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return {"apiVersion": NAMESPACE.api_version, "kind": NAMESPACE.kind,
            "metadata": {"name": model["namespace"], "labels": object_labels}}


def mongodb_secret(model: dict, password_b64: str) -> dict:
    return {"apiVersion": SECRET.api_version, "kind": SECRET.kind,
            "metadata": _metadata(model, MONGODB_SECRET, labels(model, "mongodb", "database")),
            "type": "Opaque", "data": {MONGODB_SECRET_KEY: password_b64}}


def datastore_objects(model: dict) -> list[dict]:
    objects = []
    for store in model["datastores"]:
        name, image = store["name"], store["image"]
        objects.append({
            "apiVersion": SERVICE.api_version, "kind": SERVICE.kind,
            "metadata": _metadata(model, name, labels(model, name, name)),
            # Headless: each replica gets a stable DNS name, <name>-0.<name>.
            "spec": {"clusterIP": "None", "selector": selector(model, name),
                     "ports": [{"name": name, "port": store["port"]}]},
        })
        spec = {
            "serviceName": name, "replicas": 1,
            "selector": {"matchLabels": selector(model, name)},
            "template": {"metadata": {"labels": labels(model, name, name, image)},
                         "spec": pod_spec(model, store, image)},
        }
        if store["claim"]:
            claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": store["claim"]["storage"]}}}
            if store["claim"]["storage_class"]:
                claim["storageClassName"] = store["claim"]["storage_class"]
            spec["volumeClaimTemplates"] = [{"metadata": {"name": "data", "labels": labels(model, name, name)},
                                             "spec": claim}]
        objects.append({"apiVersion": STATEFULSET.api_version, "kind": STATEFULSET.kind,
                        "metadata": _metadata(model, name, labels(model, name, name, image)), "spec": spec})
    return objects


def _strategy(strategy: dict) -> dict:
    if strategy["type"] == "Recreate":
        return {"type": "Recreate"}
    return {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": strategy["max_surge"], "maxUnavailable": strategy["max_unavailable"]}}


def component_objects(model: dict, images: dict[str, str], current_replicas: dict[str, int]) -> list[dict]:
    """Each component's Deployment and, when it has a port, its Service. The HPA owns the
    replica count of a component it scales: keep what it set, or start at its minimum."""
    objects = []
    for component in model["components"]:
        name, image = component["name"], images[component["name"]]
        replicas = (current_replicas.get(name, component["hpa"]["min_replicas"]) if component["hpa"]
                    else component["replicas"])
        objects.append({
            "apiVersion": DEPLOYMENT.api_version, "kind": DEPLOYMENT.kind,
            "metadata": _metadata(model, name, labels(model, name, name, image)),
            "spec": {
                "replicas": int(replicas),
                "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
                "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
                "selector": {"matchLabels": selector(model, name)},
                "strategy": _strategy(component["strategy"]),
                "template": {"metadata": {"labels": labels(model, name, name, image)},
                             "spec": pod_spec(model, component, image)},
            },
        })
        if component["port"] is not None:
            objects.append({
                "apiVersion": SERVICE.api_version, "kind": SERVICE.kind,
                "metadata": _metadata(model, name, labels(model, name, name)),
                "spec": {"selector": selector(model, name),
                         "ports": [{"name": "http", "port": component["port"], "targetPort": "http"}]},
            })
    return objects


def edge_objects(model: dict) -> list[dict]:
    """The Ingress of the components with a host, and the HPAs."""
    objects = []
    routed = [c for c in model["components"] if c["host"]]
    if routed:
        objects.append({
            "apiVersion": INGRESS.api_version, "kind": INGRESS.kind,
            "metadata": _metadata(model, model["name"], labels(model, model["name"], "ingress")),
            "spec": {
                "ingressClassName": model["ingress"]["class"],
                "rules": [{"host": c["host"], "http": {"paths": [{
                    "path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": c["name"], "port": {"name": "http"}}}}]}}
                    for c in routed],
            },
        })
    for component in model["components"]:
        hpa = component["hpa"]
        if not hpa:
            continue
        metrics = []
        if hpa["cpu_utilization"] is not None:
            metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": hpa["cpu_utilization"]}}})
        if hpa["memory_average"] is not None:
            metrics.append({"type": "Resource", "resource": {"name": "memory", "target": {
                "type": "AverageValue", "averageValue": hpa["memory_average"]}}})
        objects.append({
            "apiVersion": HPA.api_version, "kind": HPA.kind,
            "metadata": _metadata(model, component["name"], labels(model, component["name"], component["name"])),
            "spec": {"scaleTargetRef": {"apiVersion": DEPLOYMENT.api_version, "kind": DEPLOYMENT.kind,
                                        "name": component["name"]},
                     "minReplicas": hpa["min_replicas"], "maxReplicas": hpa["max_replicas"],
                     "metrics": metrics},
        })
    return objects


def digest(value) -> str:
    """Ten hex digits of a stable digest of a JSON-able value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:10]


def job_objects(model: dict, images: dict[str, str]) -> list[dict]:
    """The one-off Jobs. A name ends in a digest of everything the Job runs: a Job's template
    is immutable, so a change is a new Job, and an unchanged Job is not run again."""
    objects = []
    for job in model["jobs"]:
        image = job["source"].get("image") or images[job["source"]["image_of"]]
        spec = {"backoffLimit": job["backoff_limit"], "activeDeadlineSeconds": job["active_deadline_seconds"],
                "template": {"metadata": {"labels": labels(model, job["name"], "job", image)},
                             "spec": pod_spec(model, job, image, "Never")}}
        name = f"{job['name']}-{digest(spec)}"
        objects.append({"apiVersion": JOB.api_version, "kind": JOB.kind,
                        "metadata": _metadata(model, name, labels(model, job["name"], "job", image)),
                        "spec": spec})
    return objects


def dump_job(model: dict, action: str, name: str, dump_name: str, claim: str, retention: int,
             deadline_seconds: int, ttl_seconds: int) -> dict:
    """The runbooks' backup or restore Job: a dump script (from the ConfigMap
    mongodb-dump-scripts) run with the MongoDB tools' image, its password file and the dump
    volume, read-only for a restore. Labelled as the runbooks' own, out of pruning's reach."""
    store = next(s for s in model["datastores"] if s["name"] == "mongodb")
    job_labels = {**labels(model, name, action, managed_by=f"{MANAGED_BY}-runbook")}
    workload = {
        "name": action, "run_as_user": store["run_as_user"], "command": ["bash", f"/scripts/mongodb-{action}.sh"],
        "env": {"MONGODB_HOST": f"mongodb-0.mongodb.{model['namespace']}.svc.cluster.local",
                "MONGODB_PORT": str(store["port"]), "MONGODB_USERNAME": store["env"]["MONGO_INITDB_ROOT_USERNAME"],
                "MONGODB_PASSWORD_FILE": f"{MONGODB_SECRET_PATH}/{MONGODB_SECRET_KEY}", "BACKUP_DIR": "/backup",
                "DUMP_NAME": dump_name, "BACKUP_RETENTION": str(retention)},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "mount_mongodb_secret": True,
    }
    spec = pod_spec(model, workload, store["tools_image"], "Never",
                    extra_mounts=[{"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                                  {"name": "dumps", "mountPath": "/backup", "readOnly": action == "restore"}],
                    extra_volumes=[{"name": "scripts", "configMap": {"name": "mongodb-dump-scripts"}},
                                   {"name": "dumps", "persistentVolumeClaim": {"claimName": claim}}])
    return {"apiVersion": JOB.api_version, "kind": JOB.kind,
            "metadata": _metadata(model, name, job_labels),
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": int(deadline_seconds),
                     "ttlSecondsAfterFinished": int(ttl_seconds),
                     "template": {"metadata": {"labels": job_labels}, "spec": spec}}}


def app_objects(model: dict, images: dict[str, str], current_replicas: dict[str, int] | None = None) -> list[dict]:
    """Everything site.yml applies but the namespace and the Secret, in the order it applies them."""
    return (datastore_objects(model) + component_objects(model, images, current_replicas or {})
            + edge_objects(model) + job_objects(model, images))
