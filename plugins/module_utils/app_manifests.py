# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes objects of an app model (app_model.py), built in one place.

One pod-spec builder serves components, data stores, the seed Jobs, the runbooks' dump Jobs
and run-job: every pod slipway makes passes the `restricted` Pod Security level the same way.
Pure: objects in, objects out.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json

from ansible.module_utils.app_model import (
    CONFIGMAP, DEPLOYMENT, HPA, INGRESS, JOB, KINDS, MANAGED_BY, MONGODB_SECRET, MONGODB_SECRET_KEY,
    MONGODB_SECRET_PATH, NAMESPACE, PDB, PROJECT_REQUEST, ROUTE, SECRET, SERVICE, STATEFULSET, files_config_map,
    route_names)

POD_SECURITY_MODES = ("enforce", "audit", "warn")
# A pod annotation with a digest of the files a pod mounts: a change of content rolls it.
FILES_DIGEST = "slipway.dev/files-digest"
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}}
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
    env = [{"name": key, "value": value} for key, value in workload["env"].items()]
    for key, ref in workload.get("env_refs", {}).items():
        selector_key = "secretKeyRef" if ref["from"] == "secret" else "configMapKeyRef"
        env.append({"name": key, "valueFrom": {selector_key: {"name": ref["name"], "key": ref["key"]}}})
    if env:
        container["env"] = sorted(env, key=lambda variable: variable["name"])
    if workload.get("env_from"):
        container["envFrom"] = [{**({"prefix": e["prefix"]} if e["prefix"] else {}),
                                 ("secretRef" if e["from"] == "secret" else "configMapRef"): {"name": e["name"]}}
                                for e in workload["env_from"]]
    if workload.get("port") is not None:
        container["ports"] = [{"name": "http", "containerPort": workload["port"]}] + [
            {"name": p["name"], "containerPort": p["port"]} for p in workload.get("ports", [])]
    for kind, probe in workload.get("probes", {}).items():
        container[f"{kind}Probe"] = _probe(probe)
    if workload.get("resources"):
        container["resources"] = workload["resources"]
    container["securityContext"] = RESTRICTED_CONTAINER
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes = [{"name": "tmp", "emptyDir": {}}]
    if workload.get("data_path"):
        mounts.append({"name": "data", "mountPath": workload["data_path"]})
        if not workload.get("claim"):
            volumes.append({"name": "data", "emptyDir": {}})
    if workload.get("mount_mongodb_secret"):
        mounts.append({"name": "mongodb-secret", "mountPath": MONGODB_SECRET_PATH, "readOnly": True})
        volumes.append({"name": "mongodb-secret", "secret": {"secretName": MONGODB_SECRET, "defaultMode": 0o440}})
    for volume in workload.get("volumes", []):
        mounts.append({"name": volume["name"], "mountPath": volume["mount_path"],
                       **({"readOnly": True} if volume["read_only"] else {})})
        volumes.append({"name": volume["name"], **volume["source"]})
    if workload.get("files"):
        keys = _file_keys(workload["files"])
        mounts += [{"name": "files", "mountPath": f["path"], "subPath": key, "readOnly": True}
                   for key, f in zip(keys, workload["files"])]
        volumes.append({"name": "files", "configMap": {"name": files_config_map(workload)}})
    container["volumeMounts"] = mounts + list(extra_mounts or [])
    spec = {"automountServiceAccountToken": workload.get("automount_service_account_token", False),
            "restartPolicy": restart_policy}
    if workload.get("service_account"):
        spec["serviceAccountName"] = workload["service_account"]
    spec.update(_placement(model, workload))
    pull_secrets = model.get("image_pull_secrets", []) + workload.get("image_pull_secrets", [])
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in dict.fromkeys(pull_secrets)]
    # OpenShift's restricted-v2 gives each pod a UID (and fsGroup) from its namespace's range and
    # refuses any other: there the pod names none, and runs as that UID in group 0.
    fixed_ids = {} if model["platform"] == "openshift" else {"runAsUser": uid, "runAsGroup": uid, "fsGroup": uid}
    spec["securityContext"] = {"runAsNonRoot": True, **fixed_ids, "seccompProfile": {"type": "RuntimeDefault"}}
    if workload.get("init_containers"):
        spec["initContainers"] = [_init_container(model, init, image, workload) for init in workload["init_containers"]]
    spec["containers"] = [container]
    spec["volumes"] = volumes + list(extra_volumes or [])
    return spec


def _init_container(model: dict, init: dict, image: str, workload: dict) -> dict:
    """An init container of the pod's own image unless it names one, as restricted as the main one."""
    container = {"name": init["name"], "image": init["image"] or image, "imagePullPolicy": model["image_pull_policy"]}
    for key in ("command", "args"):
        if init[key] is not None:
            container[key] = init[key]
    if init["env"]:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(init["env"].items())]
    if workload.get("resources"):
        container["resources"] = workload["resources"]
    container["securityContext"] = RESTRICTED_CONTAINER
    container["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    return container


def _placement(model: dict, workload: dict) -> dict:
    """The app's nodeSelector and tolerations, with the workload's own over them, and its
    affinity and topology spread (by default over its own pods)."""
    own = workload.get("own_placement") or {}
    node_selector = {**model["placement"]["node_selector"], **own.get("node_selector", {})}
    tolerations = model["placement"]["tolerations"] + [t for t in own.get("tolerations", [])
                                                       if t not in model["placement"]["tolerations"]]
    placement = {}
    if node_selector:
        placement["nodeSelector"] = node_selector
    if tolerations:
        placement["tolerations"] = tolerations
    if own.get("affinity"):
        placement["affinity"] = own["affinity"]
    if own.get("topology_spread"):
        placement["topologySpreadConstraints"] = [
            {"labelSelector": {"matchLabels": selector(model, workload["name"])}, **constraint}
            for constraint in own["topology_spread"]]
    return placement


def _file_keys(files: list[dict]) -> list[str]:
    """ConfigMap keys for files: the base name, made unique."""
    keys = []
    for number, entry in enumerate(files):
        base = entry["path"].rsplit("/", 1)[-1]
        keys.append(base if base not in keys else f"{number}-{base}")
    return keys


def files_objects(model: dict, workload: dict, component: str) -> list[dict]:
    """The ConfigMap of a workload's files, if it has any."""
    if not workload.get("files"):
        return []
    keys = _file_keys(workload["files"])
    return [{"apiVersion": CONFIGMAP.api_version, "kind": CONFIGMAP.kind,
             "metadata": _metadata(model, files_config_map(workload), labels(model, workload["name"], component)),
             "data": {key: f["content"] for key, f in zip(keys, workload["files"])}}]


def _template_metadata(model: dict, workload: dict, component: str, image: str) -> dict:
    metadata = {"labels": {**workload.get("labels", {}), **labels(model, workload["name"], component, image)}}
    annotations = dict(workload.get("pod_annotations", {}))
    if workload.get("files"):
        annotations[FILES_DIGEST] = digest(workload["files"])
    if annotations:
        metadata["annotations"] = annotations
    return metadata


def namespace(model: dict) -> dict:
    object_labels = labels(model, model["name"], "namespace")
    for mode in POD_SECURITY_MODES:
        object_labels[f"pod-security.kubernetes.io/{mode}"] = model["pod_security"]
        object_labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return {"apiVersion": NAMESPACE.api_version, "kind": NAMESPACE.kind,
            "metadata": {"name": model["namespace"], "labels": object_labels}}


def project_request(model: dict) -> dict:
    """The request for the namespace as an OpenShift project (what `oc new-project` sends)."""
    said = {key: value for key, value in (("displayName", model["project"]["display_name"]),
                                          ("description", model["project"]["description"])) if value}
    return {"apiVersion": PROJECT_REQUEST.api_version, "kind": PROJECT_REQUEST.kind,
            "metadata": {"name": model["namespace"]}, **said}


def mongodb_secret(model: dict, password_b64: str) -> dict:
    return {"apiVersion": SECRET.api_version, "kind": SECRET.kind,
            "metadata": _metadata(model, MONGODB_SECRET, labels(model, "mongodb", "database")),
            "type": "Opaque", "data": {MONGODB_SECRET_KEY: password_b64}}


def registry_pull_secret(model: dict, registry: dict) -> dict:
    """The image pull Secret for the registry (host[:port][/path]) with its credentials."""
    server = registry["server"].split("/", 1)[0]
    login = f"{registry['username']}:{registry['password']}"
    config = {"auths": {server: {"username": registry["username"], "password": registry["password"],
                                 "auth": base64.b64encode(login.encode()).decode()}}}
    # Sorted keys: the same credentials render the same bytes, so a re-run changes nothing.
    encoded = base64.b64encode(json.dumps(config, sort_keys=True).encode()).decode()
    name = model["registry_pull_secret"]
    return {"apiVersion": SECRET.api_version, "kind": SECRET.kind,
            "metadata": _metadata(model, name, labels(model, name, "registry-credentials")),
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": encoded}}


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
        objects += files_objects(model, component, name)
        own_labels = component["labels"]
        metadata = _metadata(model, name, {**own_labels, **labels(model, name, name, image)})
        if component["annotations"]:
            metadata["annotations"] = component["annotations"]
        objects.append({
            "apiVersion": DEPLOYMENT.api_version, "kind": DEPLOYMENT.kind,
            "metadata": metadata,
            "spec": {
                "replicas": int(replicas),
                "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
                "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
                "selector": {"matchLabels": selector(model, name)},
                "strategy": _strategy(component["strategy"]),
                "template": {"metadata": _template_metadata(model, component, name, image),
                             "spec": pod_spec(model, component, image)},
            },
        })
        if component["port"] is not None:
            objects.append(_service(model, component))
        if component["pdb"]:
            objects.append({"apiVersion": PDB.api_version, "kind": PDB.kind,
                            "metadata": _metadata(model, name, {**own_labels, **labels(model, name, name)}),
                            "spec": {**{("minAvailable" if k == "min_available" else "maxUnavailable"): v
                                        for k, v in component["pdb"].items()},
                                     "selector": {"matchLabels": selector(model, name)}}})
    return objects


def _service(model: dict, component: dict) -> dict:
    name, service = component["name"], component["service"]
    ports = [{"name": "http", "port": component["port"], "targetPort": "http",
              **({"nodePort": service["node_port"]} if service["node_port"] else {})}]
    ports += [{"name": p["name"], "port": p["port"], "targetPort": p["name"],
               **({"nodePort": p["node_port"]} if p["node_port"] else {})} for p in component["ports"]]
    spec = {"selector": selector(model, name), "ports": ports}
    if service["type"] != "ClusterIP":
        spec["type"] = service["type"]
    metadata = _metadata(model, name, {**component["labels"], **labels(model, name, name)})
    if service["annotations"]:
        metadata["annotations"] = service["annotations"]
    return {"apiVersion": SERVICE.api_version, "kind": SERVICE.kind, "metadata": metadata, "spec": spec}


def routes(model: dict, routed: list[dict]) -> list[dict]:
    """OpenShift's Routes for the components with a host, one per host and path: TLS ends at the
    router (edge, with the router's certificate), plain HTTP is redirected to it."""
    objects = []
    for component in routed:
        for name, path in zip(route_names(component), component["ingress_paths"]):
            spec = {"host": component["host"],
                    "to": {"kind": SERVICE.kind, "name": component["name"], "weight": 100},
                    "port": {"targetPort": "http"},
                    "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
                    "wildcardPolicy": "None"}
            if path["path"] != "/":
                spec["path"] = path["path"]
            metadata = _metadata(model, name, labels(model, component["name"], "route"))
            if model["ingress"].get("annotations"):
                metadata["annotations"] = model["ingress"]["annotations"]
            objects.append({"apiVersion": ROUTE.api_version, "kind": ROUTE.kind, "metadata": metadata, "spec": spec})
    return objects


def edge_objects(model: dict) -> list[dict]:
    """The Ingress (OpenShift: the Routes) of the components with a host, and the HPAs."""
    objects = []
    routed = [c for c in model["components"] if c["host"]]
    if model["platform"] == "openshift":
        objects.extend(routes(model, routed))
    elif routed:
        ingress = model["ingress"]
        metadata = _metadata(model, model["name"], labels(model, model["name"], "ingress"))
        if ingress.get("annotations"):
            metadata["annotations"] = ingress["annotations"]
        spec = {
            "ingressClassName": ingress["class"],
            "rules": [{"host": c["host"], "http": {"paths": [{
                "path": p["path"], "pathType": p["path_type"],
                "backend": {"service": {"name": c["name"], "port": {"name": "http"}}}}
                for p in c.get("ingress_paths") or [{"path": "/", "path_type": "Prefix"}]]}}
                for c in routed],
        }
        if ingress.get("tls_secret"):
            spec["tls"] = [{"hosts": [c["host"] for c in routed], "secretName": ingress["tls_secret"]}]
        objects.append({"apiVersion": INGRESS.api_version, "kind": INGRESS.kind, "metadata": metadata, "spec": spec})
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


def job_name(base: str, spec: dict) -> str:
    """A Job's name: its base name and a digest of its spec, so a changed Job is a new one."""
    return f"{base}-{digest(spec)}"


def job_objects(model: dict, images: dict[str, str]) -> list[dict]:
    """The one-off Jobs. A name ends in a digest of everything the Job runs: a Job's template
    is immutable, so a change is a new Job, and an unchanged Job is not run again."""
    objects = []
    for job in model["jobs"]:
        image = job["source"].get("image") or images[job["source"]["image_of"]]
        spec = {"backoffLimit": job["backoff_limit"], "activeDeadlineSeconds": job["active_deadline_seconds"],
                "template": {"metadata": _template_metadata(model, job, "job", image),
                             "spec": pod_spec(model, job, image, "Never")}}
        objects += files_objects(model, job, "job")
        name = job_name(job["name"], spec)
        objects.append({"apiVersion": JOB.api_version, "kind": JOB.kind,
                        "metadata": _metadata(model, name, {**job.get("labels", {}),
                                                            **labels(model, job["name"], "job", image)}),
                        "spec": spec})
    return objects


def _resolved(model: dict) -> None:
    if model["platform"] not in ("kubernetes", "openshift"):
        raise ValueError(f"the platform is {model['platform']!r}: resolve it (k8s_platform) before rendering")


def dump_job(model: dict, action: str, name: str, dump_name: str, claim: str, retention: int,
             deadline_seconds: int, ttl_seconds: int) -> dict:
    """The runbooks' backup or restore Job: a dump script (from the ConfigMap
    mongodb-dump-scripts) run with the MongoDB tools' image, its password file and the dump
    volume, read-only for a restore. Labelled as the runbooks' own, out of pruning's reach."""
    _resolved(model)
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


def user_secrets(model: dict, values: dict[str, dict]) -> list[dict]:
    """The Secrets the user gives values for (slipway_app_secrets): kept, never pruned."""
    objects = []
    for name in model.get("secrets", {}):
        data = {key: base64.b64encode(str(value).encode()).decode() for key, value in (values.get(name) or {}).items()}
        objects.append({"apiVersion": SECRET.api_version, "kind": SECRET.kind,
                        "metadata": _metadata(model, name, labels(model, name, "secret")),
                        "type": "Opaque", "data": data})
    return objects


def app_objects(model: dict, images: dict[str, str], current_replicas: dict[str, int] | None = None) -> list[dict]:
    """Everything site.yml applies but the namespace and the Secrets, in the order it applies
    them, with the user's patches applied."""
    _resolved(model)
    return patched(model, datastore_objects(model) + component_objects(model, images, current_replicas or {})
                   + edge_objects(model) + job_objects(model, images))


class PatchError(ValueError):
    pass


def patched(model: dict, objects: list[dict]) -> list[dict]:
    """The objects with slipway_app_patches applied; a patch whose object is not rendered fails."""
    by_ref = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    for index, patch in enumerate(model.get("patches", [])):
        target = by_ref.get((patch["kind"], patch["name"]))
        if target is None and patch["kind"] == JOB.kind:
            target = next((o for o in objects if o["kind"] == JOB.kind
                           and o["metadata"]["name"].rsplit("-", 1)[0] == patch["name"]), None)
        if target is None:
            raise PatchError(f"slipway_app_patches[{index}]: the app renders no {patch['kind']}/{patch['name']}")
        try:
            result = merge_patch(target, patch["merge"]) if "merge" in patch else json_patch(target, patch["json"])
        except (KeyError, IndexError, ValueError, TypeError) as err:
            raise PatchError(f"slipway_app_patches[{index}] ({patch['kind']}/{patch['name']}): {err}") from err
        if target["kind"] == JOB.kind:
            # Named by what it runs, patched: a patched Job is a new Job, as a changed one is.
            result["metadata"]["name"] = job_name(target["metadata"]["name"].rsplit("-", 1)[0], result["spec"])
        target.clear()
        target.update(result)
    return objects


def merge_patch(target, patch):
    """A strategic merge as kustomize does it for built-in kinds: mappings merged key by key
    (null removes a key), lists of mappings with a `name` merged item by item by name, other
    lists replaced."""
    if isinstance(patch, dict) and isinstance(target, dict):
        merged = copy.deepcopy(target)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = merge_patch(merged.get(key), value)
        return merged
    if isinstance(patch, list) and isinstance(target, list) and all(
            isinstance(item, dict) and "name" in item for item in patch + target):
        merged = [copy.deepcopy(item) for item in target]
        names = [item["name"] for item in merged]
        for item in patch:
            if item["name"] in names:
                where = names.index(item["name"])
                merged[where] = merge_patch(merged[where], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.lstrip("/").split("/")]


def json_patch(target: dict, operations: list[dict]) -> dict:
    """RFC 6902's add, remove, replace and test."""
    document = copy.deepcopy(target)
    for op in operations:
        *parents, last = _pointer(op["path"])
        node = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if op["op"] == "add":
                node.insert(index, copy.deepcopy(op["value"]))
            elif op["op"] == "remove":
                node.pop(index)
            elif op["op"] == "replace":
                node[index] = copy.deepcopy(op["value"])
            elif node[index] != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and last not in node:
                raise KeyError(f"{op['path']} does not exist")
            node[last] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del node[last]
        elif node.get(last) != op["value"]:
            raise ValueError(f"test failed at {op['path']}")
    return document
