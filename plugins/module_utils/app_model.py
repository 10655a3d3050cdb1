# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app description, normalised once: every default applied here and nowhere else.

`app_model(variables)` takes the `slipway_app_*` variables (without the prefix) and returns the
model every role, playbook and module reads: components, data stores and Jobs with their
defaults filled in, the kinds slipway manages, the images to build and to load, the URLs. What is
wrong with the description is raised as one `AppModelError` listing every problem, each naming
the variable, before anything talks to a cluster.

Pure: no I/O but the optional `path_exists` callback the caller passes for build contexts.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# RFC 1123 subdomain, as the API server checks an Ingress host.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# A Kubernetes resource quantity (k8s.io/apimachinery/pkg/api/resource).
QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
PERCENT_OR_COUNT = re.compile(r"^(\d+%?)$")

MANAGED_BY = "slipway"
DEFAULT_RUN_AS_USER = 10001
DEFAULT_REPLICAS = 1
DEFAULT_STRATEGY = {"type": "RollingUpdate", "max_surge": 1, "max_unavailable": 0}
DEFAULT_JOB_BACKOFF_LIMIT = 3
DEFAULT_JOB_DEADLINE_SECONDS = 600
DEFAULT_HPA_MIN_REPLICAS = 1
PROBE_KINDS = ("startup", "liveness", "readiness")
# A startup probe gives a slow start a minute; the others act after three misses.
PROBE_DEFAULTS = {
    "startup": {"period_seconds": 2, "timeout_seconds": 2, "failure_threshold": 30},
    "liveness": {"period_seconds": 10, "timeout_seconds": 2, "failure_threshold": 3},
    "readiness": {"period_seconds": 10, "timeout_seconds": 2, "failure_threshold": 3},
}
MONGODB_SECRET = "mongodb"
MONGODB_SECRET_KEY = "password.txt"
MONGODB_SECRET_PATH = "/run/secrets/mongodb"


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def as_dict(self) -> dict:
        return {"api_version": self.api_version, "kind": self.kind, "plural": self.plural,
                "namespaced": self.namespaced}


NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
SECRET = Kind("v1", "Secret", "secrets")
PVC = Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
CONFIGMAP = Kind("v1", "ConfigMap", "configmaps")
SERVICE = Kind("v1", "Service", "services")
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
STATEFULSET = Kind("apps/v1", "StatefulSet", "statefulsets")
INGRESS = Kind("networking.k8s.io/v1", "Ingress", "ingresses")
HPA = Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
JOB = Kind("batch/v1", "Job", "jobs")
PDB = Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets")
ROUTE = Kind("route.openshift.io/v1", "Route", "routes")
# OpenShift's way for a user who may not create Namespaces to get one: create-only, cluster-scoped;
# the API server makes the project (its namespace) and binds the requester to `admin` there.
PROJECT_REQUEST = Kind("project.openshift.io/v1", "ProjectRequest", "projectrequests", namespaced=False)

# Where the app runs: OpenShift has Routes where Kubernetes has Ingresses, and assigns each
# namespace a range of UIDs its pods must run as (the restricted-v2 SCC).
PLATFORMS = ("auto", "kubernetes", "openshift")
OPENSHIFT_GROUPS = ("route.openshift.io", "security.openshift.io")


EDGE_KINDS = {"kubernetes": (INGRESS,), "openshift": (ROUTE,), "auto": (INGRESS, ROUTE)}


def managed_kinds(platform: str) -> tuple[Kind, ...]:
    """What the deploy applies and prunes, in the order it applies them (with `auto`, not yet
    resolved, both edges). Secrets and claims are applied (or made by StatefulSets) but never
    pruned: they hold the data."""
    return (CONFIGMAP, SERVICE, STATEFULSET, DEPLOYMENT, *EDGE_KINDS[platform], HPA, PDB, JOB)


MANAGED_KINDS = managed_kinds("kubernetes")
KEPT_KINDS = (SECRET, PVC)
KINDS = {k.kind: k for k in (NAMESPACE, ROUTE, PROJECT_REQUEST) + MANAGED_KINDS + KEPT_KINDS}


class PlatformError(ValueError):
    pass


def route_names(component: dict) -> list[str]:
    """The Routes of a component with a host, one per path (a Route has one path)."""
    paths = component["ingress_paths"]
    return [component["name"]] if len(paths) == 1 else [f"{component['name']}-{i}" for i in range(len(paths))]


def platform_facts(platform: str) -> dict:
    """What the model says that depends on the platform. `auto` is resolved (k8s_platform, the
    preflight, app_apply) before anything is rendered."""
    kinds = managed_kinds(platform)
    # Teardown goes against the apply order (ConfigMaps last: the runbooks' too).
    return {"platform": platform, "managed_kinds": [k.as_dict() for k in kinds],
            "teardown_kinds": [k.as_dict() for k in reversed(kinds)]}


def with_platform(model: dict, platform: str) -> dict:
    """The model for a resolved platform."""
    return {**model, **platform_facts(platform)}


def platform_of(requested: str, served_groups: set[str]) -> str:
    """The platform to render for: the one asked for, or with `auto` OpenShift when the API serves
    both its route and security groups (a Route CRD alone, as some ingress controllers install,
    is not OpenShift)."""
    if requested == "openshift" and OPENSHIFT_GROUPS[0] not in served_groups:
        raise PlatformError(f"the platform is openshift, but the API serves no {OPENSHIFT_GROUPS[0]}")
    if requested != "auto":
        return requested
    return "openshift" if set(OPENSHIFT_GROUPS) <= set(served_groups) else "kubernetes"

# The data stores slipway knows, as data: what each needs beyond the user's image and sizes.
# Probes need nothing in the image beyond the server: a TCP connect for MongoDB (mongo's image
# and the sandbox's FerretDB stand-in, which has no mongosh), redis-cli for Redis (in the
# official image and in Debian's redis-server).
DATASTORES = {
    "mongodb": {
        "port": 27017, "run_as_user": 999, "data_path": "/data/db", "claim": True,
        "mount_mongodb_secret": True,
        "probes": {"liveness": {"tcp_socket": True}, "readiness": {"tcp_socket": True}},
        "env": {"MONGO_INITDB_ROOT_PASSWORD_FILE": f"{MONGODB_SECRET_PATH}/{MONGODB_SECRET_KEY}"},
    },
    "redis": {
        "port": 6379, "run_as_user": 999, "data_path": "/data", "claim": False,
        "mount_mongodb_secret": False,
        "probes": {"liveness": {"command": ["redis-cli", "ping"]},
                   "readiness": {"command": ["redis-cli", "ping"]}},
        "env": {},
    },
}
DATASTORE_KEYS = {"enabled", "image", "tools_image", "storage", "storage_class", "resources"}

# What any pod of the app's own (a component's, a Job's) may add to the pod spec slipway builds.
POD_KEYS = {"labels", "pod_annotations", "env_from", "files", "volumes", "node_selector", "tolerations",
            "affinity", "topology_spread", "service_account", "automount_service_account_token",
            "init_containers", "image_pull_secrets"}
COMPONENT_KEYS = {"name", "build", "image", "image_of", "replicas", "port", "command", "args", "env",
                  "mount_mongodb_secret", "probes", "resources", "strategy", "ingress_host", "ingress_paths",
                  "hpa", "annotations", "ports", "service", "pdb"} | POD_KEYS
BUILD_KEYS = {"context", "dockerfile", "target", "build_args", "prepare"}
PROBE_KEYS = {"path", "port", "command", "tcp_socket", "period_seconds", "timeout_seconds",
              "failure_threshold"}
HPA_KEYS = {"min_replicas", "max_replicas", "cpu_utilization", "memory_average"}
JOB_KEYS = {"name", "image", "image_of", "command", "args", "env", "mount_mongodb_secret",
            "resources", "backoff_limit", "active_deadline_seconds"} | POD_KEYS
SERVICE_KEYS = {"type", "node_port", "annotations"}
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PORT_KEYS = {"name", "port", "node_port"}
INGRESS_PATH_KEYS = {"path", "path_type"}
PATH_TYPES = ("Prefix", "Exact", "ImplementationSpecific")
VOLUME_KEYS = {"name", "mount_path", "read_only", "source"}
FILE_KEYS = {"path", "content"}
INIT_KEYS = {"name", "image", "command", "args", "env"}
PDB_KEYS = {"min_available", "max_unavailable"}
PATCH_KEYS = {"kind", "name", "merge", "json"}
# Labels slipway sets itself: a user's labels may not move an object out of its selector.
OWN_LABEL_PREFIX = "app.kubernetes.io/"
# The volumes and ports slipway's pod spec has already.
RESERVED_VOLUMES = {"tmp", "data", "mongodb-secret", "files"}
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
RESOURCE_KEYS = {"requests", "limits"}
# A Job's name is its prefix, '-' and a 10-character digest of its spec: 63 in all.
JOB_NAME_MAX = 50


class AppModelError(ValueError):
    """Everything wrong with the description, one problem per entry of `problems`."""

    def __init__(self, problems: list[str]):
        super().__init__("Invalid app description: " + "; ".join(problems))
        self.problems = problems


def as_bool(value) -> bool:
    """A boolean as YAML, AWX surveys and -e strings give it."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1", "y")
    return bool(value)


class _Checker:
    def __init__(self):
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def whole(self, where: str, value, low: int, high: int | None = None) -> int | None:
        try:
            number = int(str(value).strip())
        except ValueError:
            self.add(f"{where}: {value!r} is not a whole number")
            return None
        if number < low or (high is not None and number > high):
            self.add(f"{where}: {number} is outside {f'{low}..{high}' if high is not None else f'>= {low}'}")
            return None
        return number

    def mapping(self, where: str, value, keys: set[str] | None = None) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
            return {}
        if keys is not None:
            unknown = sorted(set(value) - keys)
            if unknown:
                self.add(f"{where}: unknown keys {unknown} (known: {', '.join(sorted(keys))})")
        return value

    def strings(self, where: str, value) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(part, (str, int, float)) for part in value):
            self.add(f"{where}: expected a list of strings, got {value!r}")
            return None
        return [str(part) for part in value]

    def quantity(self, where: str, value) -> str | None:
        text = str(value).strip()
        if not QUANTITY.match(text):
            self.add(f"{where}: {value!r} is not a Kubernetes quantity (e.g. 256Mi, 500m, 1)")
            return None
        return text

    def resources(self, where: str, value) -> dict:
        resources = self.mapping(where, value, RESOURCE_KEYS)
        checked = {}
        for part in sorted(resources):
            amounts = self.mapping(f"{where}.{part}", resources[part])
            checked[part] = {name: self.quantity(f"{where}.{part}.{name}", amount)
                             for name, amount in amounts.items()}
        return checked


def _probe(check: _Checker, where: str, kind: str, spec, port: int | None) -> dict | None:
    spec = check.mapping(where, spec, PROBE_KEYS)
    if not spec:
        return None
    actions = [key for key in ("path", "command") if spec.get(key)]
    if as_bool(spec.get("tcp_socket", False)):
        actions.append("tcp_socket")
    if len(actions) > 1:
        check.add(f"{where}: give one of path, command or tcp_socket (got {', '.join(actions)})")
    probe = {key: check.whole(f"{where}.{key}", spec.get(key, default), 1)
             for key, default in PROBE_DEFAULTS[kind].items()}
    if spec.get("command"):
        probe["command"] = check.strings(f"{where}.command", spec["command"])
        return probe
    probe_port = spec.get("port", port)
    if probe_port is None:
        check.add(f"{where}: an HTTP or TCP probe needs a port (the component's or its own)")
    else:
        probe["port"] = check.whole(f"{where}.port", probe_port, 1, 65535)
    if "tcp_socket" in actions:
        probe["tcp_socket"] = True
    else:
        path = str(spec.get("path", "/healthz"))
        if not path.startswith("/"):
            check.add(f"{where}.path: {path!r} does not start with /")
        probe["path"] = path
    return probe


def _probes(check: _Checker, where: str, spec, port: int | None) -> dict:
    probes = check.mapping(where, spec, set(PROBE_KINDS))
    normalised = {kind: _probe(check, f"{where}.{kind}", kind, probes.get(kind), port) for kind in PROBE_KINDS}
    return {kind: probe for kind, probe in normalised.items() if probe}


def _env(check: _Checker, where: str, common: dict, own, port: int | None) -> dict:
    env = {**common, **check.mapping(where, own)}
    if port is not None:
        env["LISTEN_PORT"] = port
    literal = {}
    for key, value in env.items():
        if not ENV_NAME.match(str(key)):
            check.add(f"{where}.{key}: not a valid environment variable name")
        if isinstance(value, dict):
            continue
        literal[str(key)] = "" if value is None else str(value)
    return literal


def _env_refs(check: _Checker, where: str, own) -> dict:
    """Variables taken from a key of the user's own Secret or ConfigMap: {secret: name, key: k}."""
    refs = {}
    for key, value in (own or {}).items() if isinstance(own, dict) else ():
        if not isinstance(value, dict):
            continue
        check.mapping(f"{where}.{key}", value, {"secret", "config_map", "key"})
        sources = [source for source in ("secret", "config_map") if value.get(source)]
        if len(sources) != 1 or not value.get("key"):
            check.add(f"{where}.{key}: give secret or config_map, and key")
            continue
        refs[str(key)] = {"from": sources[0], "name": str(value[sources[0]]), "key": str(value["key"])}
    return refs


def _str_map(check: _Checker, where: str, value) -> dict:
    return {str(k): "" if v is None else str(v) for k, v in check.mapping(where, value).items()}


def _labels(check: _Checker, where: str, value) -> dict:
    labels = _str_map(check, where, value)
    for key in labels:
        if key.startswith(OWN_LABEL_PREFIX):
            check.add(f"{where}.{key}: labels under {OWN_LABEL_PREFIX} are slipway's own")
    return labels


def _pod(check: _Checker, where: str, spec: dict) -> dict:
    """The pod-level extras of a component or a Job, normalised."""
    env_from = []
    for index, entry in enumerate(spec.get("env_from") or []):
        entry = check.mapping(f"{where}.env_from[{index}]", entry, {"secret", "config_map", "prefix"})
        sources = [source for source in ("secret", "config_map") if entry.get(source)]
        if len(sources) != 1:
            check.add(f"{where}.env_from[{index}]: give secret or config_map")
            continue
        env_from.append({"from": sources[0], "name": str(entry[sources[0]]), "prefix": str(entry.get("prefix") or "")})
    volumes = []
    for index, entry in enumerate(spec.get("volumes") or []):
        at = f"{where}.volumes[{index}]"
        entry = check.mapping(at, entry, VOLUME_KEYS)
        if not DNS_LABEL.match(str(entry.get("name", ""))) or entry.get("name") in RESERVED_VOLUMES:
            check.add(f"{at}.name: {entry.get('name')!r} is not a DNS label other than {sorted(RESERVED_VOLUMES)}")
        if not str(entry.get("mount_path", "")).startswith("/"):
            check.add(f"{at}.mount_path: give an absolute path")
        source = check.mapping(f"{at}.source", entry.get("source"))
        if len(source) != 1:
            check.add(f"{at}.source: give one volume source as in a pod spec, e.g. {{emptyDir: {{}}}}")
        volumes.append({"name": str(entry.get("name")), "mount_path": str(entry.get("mount_path")),
                        "read_only": as_bool(entry.get("read_only", False)), "source": dict(source)})
    files = []
    for index, entry in enumerate(spec.get("files") or []):
        at = f"{where}.files[{index}]"
        entry = check.mapping(at, entry, FILE_KEYS)
        path = str(entry.get("path", ""))
        if not path.startswith("/") or path.endswith("/"):
            check.add(f"{at}.path: {path!r} is not an absolute file path")
        files.append({"path": path, "content": str(entry.get("content", ""))})
    init_containers = []
    for index, entry in enumerate(spec.get("init_containers") or []):
        at = f"{where}.init_containers[{index}]"
        entry = check.mapping(at, entry, INIT_KEYS)
        init_containers.append({
            "name": _name(check, at, entry) or "", "image": str(entry.get("image") or ""),
            "command": check.strings(f"{at}.command", entry.get("command")),
            "args": check.strings(f"{at}.args", entry.get("args")),
            "env": _str_map(check, f"{at}.env", entry.get("env"))})
    tolerations = spec.get("tolerations") or []
    spread = spec.get("topology_spread") or []
    for key, value in (("tolerations", tolerations), ("topology_spread", spread)):
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            check.add(f"{where}.{key}: expected a list of mappings as in a pod spec")
    pull_secrets = check.strings(f"{where}.image_pull_secrets", spec.get("image_pull_secrets")) or []
    return {
        "labels": _labels(check, f"{where}.labels", spec.get("labels")),
        "pod_annotations": _str_map(check, f"{where}.pod_annotations", spec.get("pod_annotations")),
        "env_refs": _env_refs(check, f"{where}.env", spec.get("env")),
        "env_from": env_from,
        "volumes": volumes,
        "files": files,
        "init_containers": init_containers,
        "own_placement": {"node_selector": _str_map(check, f"{where}.node_selector", spec.get("node_selector")),
                          "tolerations": list(tolerations) if isinstance(tolerations, list) else [],
                          "affinity": dict(check.mapping(f"{where}.affinity", spec.get("affinity"))),
                          "topology_spread": list(spread) if isinstance(spread, list) else []},
        "service_account": str(spec.get("service_account") or "") or None,
        "automount_service_account_token": as_bool(spec.get("automount_service_account_token", False)),
        "image_pull_secrets": pull_secrets,
    }


def _service(check: _Checker, where: str, spec: dict, port: int | None) -> tuple[dict, list[dict]]:
    service = check.mapping(f"{where}.service", spec.get("service"), SERVICE_KEYS)
    kind = service.get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        check.add(f"{where}.service.type: {kind!r} is not one of {', '.join(SERVICE_TYPES)}")
    node_port = service.get("node_port")
    if node_port is not None:
        node_port = check.whole(f"{where}.service.node_port", node_port, 1, 65535)
        if kind == "ClusterIP":
            check.add(f"{where}.service.node_port needs service.type NodePort or LoadBalancer")
    ports = []
    for index, entry in enumerate(spec.get("ports") or []):
        at = f"{where}.ports[{index}]"
        entry = check.mapping(at, entry, PORT_KEYS)
        name = str(entry.get("name", ""))
        if not DNS_LABEL.match(name) or len(name) > 15 or name == "http":
            check.add(f"{at}.name: {name!r} is not a port name (a DNS label of at most 15 characters, not http)")
        ports.append({"name": name, "port": check.whole(f"{at}.port", entry.get("port"), 1, 65535),
                      "node_port": check.whole(f"{at}.node_port", entry["node_port"], 1, 65535)
                      if entry.get("node_port") is not None else None})
    if (ports or service) and port is None:
        check.add(f"{where}: service and ports need the component's port")
    return {"type": kind, "node_port": node_port,
            "annotations": _str_map(check, f"{where}.service.annotations", service.get("annotations"))}, ports


def _source(check: _Checker, where: str, spec: dict, path_exists) -> dict:
    sources = [key for key in ("build", "image", "image_of") if spec.get(key)]
    if len(sources) != 1:
        check.add(f"{where}: give exactly one of build, image or image_of (got {sources or 'none'})")
        return {}
    key = sources[0]
    if key != "build":
        return {key: str(spec[key])}
    build = check.mapping(f"{where}.build", spec["build"], BUILD_KEYS)
    context = build.get("context")
    if not context:
        check.add(f"{where}.build.context is missing")
    elif path_exists is not None and not path_exists(str(context)):
        check.add(f"{where}.build.context: {context} is not a folder on the controller")
    return {"build": {"dockerfile": "Dockerfile", "build_args": {}, **build}}


def _strategy(check: _Checker, where: str, spec) -> dict:
    strategy = {**DEFAULT_STRATEGY, **check.mapping(where, spec, set(DEFAULT_STRATEGY))}
    if strategy["type"] not in ("RollingUpdate", "Recreate"):
        check.add(f"{where}.type: {strategy['type']!r} is not RollingUpdate or Recreate")
    for key in ("max_surge", "max_unavailable"):
        value = strategy[key]
        if not PERCENT_OR_COUNT.match(str(value)):
            check.add(f"{where}.{key}: {value!r} is not a count or a percentage")
        elif not str(value).endswith("%"):
            strategy[key] = int(str(value))
    return strategy


def _hpa(check: _Checker, where: str, spec) -> dict | None:
    hpa = check.mapping(where, spec, HPA_KEYS)
    if not hpa:
        return None
    low = check.whole(f"{where}.min_replicas", hpa.get("min_replicas", DEFAULT_HPA_MIN_REPLICAS), 1)
    if "max_replicas" not in hpa:
        check.add(f"{where}.max_replicas is missing")
        high = None
    else:
        high = check.whole(f"{where}.max_replicas", hpa["max_replicas"], low or 1)
    normalised = {"min_replicas": low, "max_replicas": high, "cpu_utilization": None, "memory_average": None}
    if hpa.get("cpu_utilization") is not None:
        normalised["cpu_utilization"] = check.whole(f"{where}.cpu_utilization", hpa["cpu_utilization"], 1)
    if hpa.get("memory_average") is not None:
        normalised["memory_average"] = check.quantity(f"{where}.memory_average", hpa["memory_average"])
    return normalised


def _name(check: _Checker, where: str, spec: dict, longest: int = 63) -> str | None:
    name = spec.get("name")
    if not name:
        check.add(f"{where}.name is missing")
        return None
    if not DNS_LABEL.match(str(name)) or len(str(name)) > longest:
        check.add(f"{where}.name: {name!r} is not a DNS label of at most {longest} characters "
                  "(lower case, digits, '-')")
    return str(name)


def _component(check: _Checker, index: int, spec, common_env: dict, domain: str, path_exists) -> dict | None:
    where = f"slipway_app_components[{index}]"
    spec = check.mapping(where, spec)
    name = _name(check, where, spec)
    if name is None:
        return None
    where = f"{where} ({name})"
    check.mapping(where, spec, COMPONENT_KEYS)
    port = check.whole(f"{where}.port", spec["port"], 1, 65535) if spec.get("port") is not None else None
    hpa = _hpa(check, f"{where}.hpa", spec.get("hpa"))
    host = str(spec.get("ingress_host") or "").strip()
    if host:
        full = f"{host}.{domain}" if domain else host
        if not DNS_SUBDOMAIN.match(full) or len(full) > 253:
            check.add(f"{where}.ingress_host: {full!r} is not a DNS name (lower case letters, digits, '-' and '.')")
        if port is None:
            check.add(f"{where}.ingress_host needs a port to route to")
    paths = []
    for i, entry in enumerate(spec.get("ingress_paths") or [{"path": "/"}]):
        entry = check.mapping(f"{where}.ingress_paths[{i}]", entry, INGRESS_PATH_KEYS)
        if not str(entry.get("path", "")).startswith("/"):
            check.add(f"{where}.ingress_paths[{i}].path: give a path starting with /")
        if entry.get("path_type", "Prefix") not in PATH_TYPES:
            check.add(f"{where}.ingress_paths[{i}].path_type: not one of {', '.join(PATH_TYPES)}")
        paths.append({"path": str(entry.get("path")), "path_type": entry.get("path_type", "Prefix")})
    pdb = check.mapping(f"{where}.pdb", spec.get("pdb"), PDB_KEYS)
    if pdb and len(pdb) != 1:
        check.add(f"{where}.pdb: give min_available or max_unavailable")
    for key, value in pdb.items():
        if not PERCENT_OR_COUNT.match(str(value)):
            check.add(f"{where}.pdb.{key}: {value!r} is not a count or a percentage")
    service, ports = _service(check, where, spec, port)
    return {
        "name": name,
        "source": _source(check, where, spec, path_exists),
        "replicas": check.whole(f"{where}.replicas", spec.get("replicas", DEFAULT_REPLICAS), 0),
        "annotations": _str_map(check, f"{where}.annotations", spec.get("annotations")),
        "service": service,
        "ports": ports,
        "ingress_paths": paths,
        "pdb": {k: (str(v) if str(v).endswith("%") else int(str(v))) for k, v in pdb.items()
                if PERCENT_OR_COUNT.match(str(v))} or None,
        **_pod(check, where, spec),
        "port": port,
        "command": check.strings(f"{where}.command", spec.get("command")),
        "args": check.strings(f"{where}.args", spec.get("args")),
        "env": _env(check, f"{where}.env", common_env, spec.get("env"), port),
        "mount_mongodb_secret": as_bool(spec.get("mount_mongodb_secret", False)),
        "probes": _probes(check, f"{where}.probes", spec.get("probes"), port),
        "resources": check.resources(f"{where}.resources", spec.get("resources")),
        "strategy": _strategy(check, f"{where}.strategy", spec.get("strategy")),
        "host": f"{host}.{domain}" if host and domain else host or None,
        "hpa": hpa,
        "run_as_user": DEFAULT_RUN_AS_USER,
    }


def _job(check: _Checker, index: int, spec, common_env: dict) -> dict | None:
    where = f"slipway_app_jobs[{index}]"
    spec = check.mapping(where, spec)
    name = _name(check, where, spec, JOB_NAME_MAX)
    if name is None:
        return None
    check.mapping(where, spec, JOB_KEYS)
    sources = [key for key in ("image", "image_of") if spec.get(key)]
    if len(sources) != 1:
        check.add(f"{where}: give exactly one of image or image_of (got {sources or 'none'})")
    return {
        "name": name,
        "source": {key: str(spec[key]) for key in sources[:1]},
        "command": check.strings(f"{where}.command", spec.get("command")),
        "args": check.strings(f"{where}.args", spec.get("args")),
        "env": _env(check, f"{where}.env", common_env, spec.get("env"), None),
        "mount_mongodb_secret": as_bool(spec.get("mount_mongodb_secret", False)),
        "resources": check.resources(f"{where}.resources", spec.get("resources")),
        "probes": {},
        **_pod(check, where, spec),
        "backoff_limit": check.whole(f"{where}.backoff_limit", spec.get("backoff_limit", DEFAULT_JOB_BACKOFF_LIMIT), 0),
        "active_deadline_seconds": check.whole(
            f"{where}.active_deadline_seconds", spec.get("active_deadline_seconds", DEFAULT_JOB_DEADLINE_SECONDS), 1),
        "run_as_user": DEFAULT_RUN_AS_USER,
    }


def _datastore(check: _Checker, name: str, spec, common_env: dict) -> dict | None:
    where = f"slipway_app_{name}"
    spec = check.mapping(where, spec, DATASTORE_KEYS)
    if not as_bool(spec.get("enabled", True)):
        return None
    facts = DATASTORES[name]
    if not spec.get("image"):
        check.add(f"{where}.image is missing")
    store = {
        "name": name,
        "image": str(spec.get("image") or ""),
        "tools_image": str(spec.get("tools_image") or "") or str(spec.get("image") or ""),
        "port": facts["port"],
        "command": None,
        "args": None,
        "env": dict(facts["env"]),
        "mount_mongodb_secret": facts["mount_mongodb_secret"],
        "probes": _probes(check, where, facts["probes"], facts["port"]),
        "resources": check.resources(f"{where}.resources", spec.get("resources")),
        "run_as_user": facts["run_as_user"],
        "data_path": facts["data_path"],
        "claim": None,
    }
    if name == "mongodb":
        store["env"]["MONGO_INITDB_ROOT_USERNAME"] = common_env.get("MONGODB_USERNAME", "root")
    if facts["claim"]:
        store["claim"] = {"storage": check.quantity(f"{where}.storage", spec.get("storage", "100Mi")),
                          "storage_class": str(spec.get("storage_class") or "")}
    return store


def _references(check: _Checker, components: list[dict], jobs: list[dict]) -> None:
    names = [c["name"] for c in components]
    for index, name in enumerate(names):
        if name in names[:index]:
            check.add(f"slipway_app_components[{index}] ({name}).name: {name!r} is used twice")
    for index, component in enumerate(components):
        target = component["source"].get("image_of")
        if target is not None and (target not in names or components[names.index(target)]["source"].get("image_of")):
            check.add(f"slipway_app_components[{index}] ({component['name']}).image_of: "
                      f"no component named {target!r} with an image of its own")
    for index, job in enumerate(jobs):
        target = job["source"].get("image_of")
        if target is not None and target not in names:
            check.add(f"slipway_app_jobs[{index}].image_of: no component named {target!r}")


def app_model(variables: dict, path_exists=None) -> dict:
    """The normalised app model from the `slipway_app_*` variables (keys without the prefix).

    Raises AppModelError listing every problem. `path_exists(path)` says whether a build
    context folder exists (None: not checked)."""
    check = _Checker()
    name = str(variables.get("name") or "")
    if not DNS_LABEL.match(name):
        check.add(f"slipway_app_name: {name!r} is not a DNS label (lower case, digits, '-')")
    namespace = str(variables.get("namespace") or "")
    if not DNS_LABEL.match(namespace):
        check.add(f"slipway_app_namespace: {namespace!r} is not a DNS label (lower case, digits, '-')")
    domain = str(variables.get("ingress_domain") or "").strip(".")
    common_env = check.mapping("slipway_app_common_env", variables.get("common_env"))
    common_env = {str(k): "" if v is None else str(v) for k, v in common_env.items()}
    if variables.get("pod_security", "restricted") not in ("privileged", "baseline", "restricted"):
        check.add(f"slipway_app_pod_security: {variables['pod_security']!r} is not privileged, baseline or restricted")
    platform = variables.get("platform") or "kubernetes"
    if platform not in PLATFORMS:
        check.add(f"slipway_app_platform: {platform!r} is not {', '.join(PLATFORMS)}")
    if variables.get("image_pull_policy", "Never") not in ("Always", "IfNotPresent", "Never"):
        check.add(f"slipway_app_image_pull_policy: {variables['image_pull_policy']!r} is not Always, "
                  "IfNotPresent or Never")
    raw_components = variables.get("components")
    if not isinstance(raw_components, list) or not raw_components:
        check.add("slipway_app_components: give at least one component (a list of mappings)")
        raw_components = []
    raw_jobs = variables.get("jobs") or []
    if not isinstance(raw_jobs, list):
        check.add("slipway_app_jobs: expected a list of mappings")
        raw_jobs = []
    components = [c for c in (_component(check, i, spec, common_env, domain, path_exists)
                              for i, spec in enumerate(raw_components)) if c]
    jobs = [j for j in (_job(check, i, spec, common_env) for i, spec in enumerate(raw_jobs)) if j]
    datastores = [s for s in (_datastore(check, store, variables.get(store), common_env) for store in DATASTORES) if s]
    _references(check, components, jobs)
    node_selector = check.mapping("slipway_app_node_selector", variables.get("node_selector"))
    tolerations = variables.get("tolerations") or []
    if not isinstance(tolerations, list):
        check.add(f"slipway_app_tolerations: expected a list, got {tolerations!r}")
    ingress_port = check.whole("slipway_app_ingress_port", variables.get("ingress_port", 0), 0, 65535)
    tls_secret = str(variables.get("ingress_tls_secret") or "")
    if tls_secret and not DNS_SUBDOMAIN.match(tls_secret):
        check.add(f"slipway_app_ingress_tls_secret: {tls_secret!r} is not a Secret name")
    secrets = {}
    for secret, values in check.mapping("slipway_app_secrets", variables.get("secrets")).items():
        if not DNS_SUBDOMAIN.match(str(secret)) or secret == MONGODB_SECRET:
            check.add(f"slipway_app_secrets.{secret}: not a Secret name of the user's own (not {MONGODB_SECRET})")
        # The keys only: the values never enter the model, which is printed and passed around,
        # nor a message.
        if not isinstance(values, dict):
            check.add(f"slipway_app_secrets.{secret}: expected a mapping of keys to values")
            values = {}
        keys = sorted(values)
        secrets[str(secret)] = keys
    patches = _patches(check, variables.get("patches"))
    ingress_annotations = _str_map(check, "slipway_app_ingress_annotations", variables.get("ingress_annotations"))
    pull_secrets = check.strings("slipway_app_image_pull_secrets", variables.get("image_pull_secrets")) or []
    registry_secret = str(variables.get("registry_pull_secret") or "")
    if registry_secret and (not DNS_SUBDOMAIN.match(registry_secret) or registry_secret == MONGODB_SECRET
                            or registry_secret in secrets):
        check.add(f"slipway_app_registry_pull_secret: {registry_secret!r} is not a Secret name of its own "
                  f"(not {MONGODB_SECRET}, not one of slipway_app_secrets)")
    project = {key: str(variables.get(f"project_{key}") or "") for key in ("display_name", "description")}
    if check.problems:
        raise AppModelError(check.problems)
    return {
        "name": name,
        "namespace": namespace,
        # What a ProjectRequest says of the project, when OpenShift's namespace is requested.
        "project": project,
        "pod_security": variables.get("pod_security", "restricted"),
        "image_pull_policy": variables.get("image_pull_policy", "Never"),
        "placement": {"node_selector": dict(node_selector), "tolerations": copy.deepcopy(tolerations)},
        "ingress": {"class": str(variables.get("ingress_class") or ""), "domain": domain, "port": ingress_port,
                    "annotations": ingress_annotations, "tls_secret": tls_secret or None},
        "image_pull_secrets": pull_secrets + ([registry_secret] if registry_secret else []),
        # The pull Secret made from the registry's credentials (app_apply's registry option).
        "registry_pull_secret": registry_secret or None,
        "secrets": secrets,
        "patches": patches,
        "components": components,
        "datastores": datastores,
        "jobs": jobs,
        "selector": {"app.kubernetes.io/part-of": name, "app.kubernetes.io/managed-by": MANAGED_BY},
        **platform_facts(platform),
        "workloads": {**{c["name"]: DEPLOYMENT.kind for c in components},
                      **{s["name"]: STATEFULSET.kind for s in datastores}},
        "urls": [_url(c["host"], ingress_port, bool(tls_secret)) for c in components if c["host"]],
        "has_mongodb": any(s["name"] == "mongodb" for s in datastores),
    }


# The kinds slipway writes in the namespace and the verbs it writes them with: server-side apply
# (get, create, patch), the deploy's reads and pruning (list, delete), the runbooks' teardown with
# purge (delete); the workloads it waits for are watched too. Then what it only reads to judge
# a rollout and to roll one back (patch through the workload, pods deleted by a restart).
KEPT_WRITTEN = (SECRET, PVC)
# Followed by watches: the waiter's workloads, and whatever the teardown deletes, until it is
# gone. Never Secrets: a watch streams their values, and a deleted Secret is gone at once.
WATCHED = {*MANAGED_KINDS, ROUTE, PVC}
READ = (
    {"resource": "pods", "verbs": ["get", "list", "watch", "delete"]},
    {"resource": "pods", "subresource": "log", "verbs": ["get"]},
    {"resource": "events", "verbs": ["list", "watch"]},
    {"group": "apps", "resource": "replicasets", "verbs": ["list", "watch"]},
    {"group": "apps", "resource": "controllerrevisions", "verbs": ["list", "watch"]},
)


def permissions(model: dict) -> list[dict]:
    """What slipway does (site.yml and the runbooks): the list the preflight reviews and
    playbooks/deployer-rbac.yml grants, from the kinds above."""
    platform = model["platform"]
    # Unresolved, both platforms' entries, each tagged with its own (permissions_on picks).
    only = (lambda name: {"platform": name}) if platform == "auto" else (lambda name: {})
    granted = []
    if platform != "openshift":
        granted.append({"resource": NAMESPACE.plural, "name": model["namespace"], "verbs": ["get", "create", "patch"],
                        "cluster": True, **only("kubernetes")})
    if platform != "kubernetes":
        # An OpenShift project's labels are OpenShift's: the deploy only reads it, to know it is
        # there and the identity's (a Role in the namespace grants it, as the project's admin role does).
        granted.append({"resource": NAMESPACE.plural, "name": model["namespace"], "verbs": ["get"],
                        **only("openshift")})
        # Only while the namespace is not there: it is requested as a project, whose admin role
        # then grants the requester every namespaced permission below.
        granted.append({"group": PROJECT_REQUEST.api_version.rpartition("/")[0], "resource": PROJECT_REQUEST.plural,
                        "verbs": ["create"], "cluster": True, "creates_namespace": True, **only("openshift")})
    for kind in KEPT_WRITTEN + managed_kinds(platform):
        group = kind.api_version.rpartition("/")[0]
        verbs = ["get", "list"] + (["watch"] if kind in WATCHED else []) + ["create", "patch", "delete"]
        edge = {INGRESS.kind: only("kubernetes"), ROUTE.kind: only("openshift")}.get(kind.kind, {})
        granted.append({**({"group": group} if group else {}), "resource": kind.plural, "verbs": verbs, **edge})
    if platform != "kubernetes":
        # A Route that names its host (spec.host) needs this besides routes create.
        granted.append({"group": "route.openshift.io", "resource": "routes", "subresource": "custom-host",
                        "verbs": ["create"], **only("openshift")})
    return granted + [dict(entry) for entry in READ]


def permissions_on(granted: list[dict], platform: str) -> list[dict]:
    """The permissions a resolved platform needs, of a list made for `auto` (or for it already)."""
    return [{k: v for k, v in entry.items() if k != "platform"} for entry in granted
            if entry.get("platform", platform) == platform]


def _patches(check: _Checker, value) -> list[dict]:
    """Per-object patches, applied to what the model renders (as kustomize overlays): `merge`, a
    strategic merge (mappings merged, lists of named items merged by name, null removes), or
    `json`, RFC 6902 operations."""
    patches = []
    if value is not None and not isinstance(value, list):
        check.add("slipway_app_patches: expected a list of mappings")
        return patches
    for index, entry in enumerate(value or []):
        at = f"slipway_app_patches[{index}]"
        entry = check.mapping(at, entry, PATCH_KEYS)
        if entry.get("kind") not in KINDS:
            check.add(f"{at}.kind: {entry.get('kind')!r} is not a kind slipway renders ({', '.join(sorted(KINDS))})")
        if not entry.get("name"):
            check.add(f"{at}.name is missing")
        kinds = [key for key in ("merge", "json") if key in entry]
        if len(kinds) != 1:
            check.add(f"{at}: give merge or json")
            continue
        if kinds[0] == "json":
            for number, op in enumerate(entry["json"] if isinstance(entry["json"], list) else [None]):
                if not isinstance(op, dict) or op.get("op") not in JSON_PATCH_OPS or \
                        not str(op.get("path", "")).startswith("/"):
                    check.add(f"{at}.json[{number}]: give op ({', '.join(JSON_PATCH_OPS)}) and a path starting with /")
        elif not isinstance(entry["merge"], dict):
            check.add(f"{at}.merge: expected a mapping")
        patches.append({"kind": entry.get("kind"), "name": str(entry.get("name")), kinds[0]: entry[kinds[0]]})
    return patches


JSON_PATCH_OPS = ("add", "remove", "replace", "test")


def _url(host: str, port: int, tls: bool = False) -> str:
    if tls:
        return f"https://{host}/"
    return f"http://{host}{'' if port in (0, 80) else f':{port}'}/"


def build_images(model: dict) -> list[dict]:
    """The image_build role's input: one image per component built from source."""
    return [{"name": c["name"], "repository": f"slipway/{model['name']}-{c['name']}", **c["source"]["build"]}
            for c in model["components"] if "build" in c["source"]]


def prebuilt_images(model: dict) -> list[str]:
    """Images the app runs but does not build: components' own and the data stores' (with
    the image of MongoDB's backup and restore Jobs)."""
    images = {c["source"]["image"] for c in model["components"] if "image" in c["source"]}
    images |= {s["image"] for s in model["datastores"]} | {s["tools_image"] for s in model["datastores"]}
    images |= {j["source"]["image"] for j in model["jobs"] if "image" in j["source"]}
    return sorted(images)


def image_refs(model: dict, built: dict[str, str]) -> dict[str, str | None]:
    """Component name -> image: its own, the one built for it, or its image_of's."""
    direct = {c["name"]: c["source"].get("image") or built.get(c["name"]) for c in model["components"]}
    return {c["name"]: direct[c["source"]["image_of"]] if "image_of" in c["source"] else direct[c["name"]]
            for c in model["components"]}


def expected_objects(model: dict, job_names: list[str]) -> dict[str, list[str]]:
    """Kind -> names of the managed objects the model calls for: what pruning keeps."""
    components, stores = model["components"], model["datastores"]
    return {
        CONFIGMAP.kind: [files_config_map(w) for w in components + model["jobs"] if w["files"]],
        SERVICE.kind: [c["name"] for c in components if c["port"] is not None] + [s["name"] for s in stores],
        STATEFULSET.kind: [s["name"] for s in stores],
        DEPLOYMENT.kind: [c["name"] for c in components],
        **({ROUTE.kind: [name for c in components if c["host"] for name in route_names(c)]}
           if model["platform"] == "openshift" else
           {INGRESS.kind: [model["name"]] if any(c["host"] for c in components) else []}),
        HPA.kind: [c["name"] for c in components if c["hpa"]],
        PDB.kind: [c["name"] for c in components if c["pdb"]],
        JOB.kind: list(job_names),
    }


def files_config_map(workload: dict) -> str:
    """The ConfigMap holding a component's or a Job's files."""
    return f"{workload['name']}-files"
