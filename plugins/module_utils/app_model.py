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
# What the deploy applies and prunes, in the order it applies them. Secrets and claims are
# applied (or made by StatefulSets) but never pruned: they hold the data.
MANAGED_KINDS = (SERVICE, STATEFULSET, DEPLOYMENT, INGRESS, HPA, JOB)
KEPT_KINDS = (SECRET, PVC)
KINDS = {k.kind: k for k in (NAMESPACE, CONFIGMAP) + MANAGED_KINDS + KEPT_KINDS}

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

COMPONENT_KEYS = {"name", "build", "image", "image_of", "replicas", "port", "command", "args", "env",
                  "mount_mongodb_secret", "probes", "resources", "strategy", "ingress_host", "hpa"}
BUILD_KEYS = {"context", "dockerfile", "target", "build_args", "prepare"}
PROBE_KEYS = {"path", "port", "command", "tcp_socket", "period_seconds", "timeout_seconds",
              "failure_threshold"}
HPA_KEYS = {"min_replicas", "max_replicas", "cpu_utilization", "memory_average"}
JOB_KEYS = {"name", "image", "image_of", "command", "args", "env", "mount_mongodb_secret",
            "resources", "backoff_limit", "active_deadline_seconds"}
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
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


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
    return {
        "name": name,
        "source": _source(check, where, spec, path_exists),
        "replicas": check.whole(f"{where}.replicas", spec.get("replicas", DEFAULT_REPLICAS), 0),
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
    if check.problems:
        raise AppModelError(check.problems)
    return {
        "name": name,
        "namespace": namespace,
        "pod_security": variables.get("pod_security", "restricted"),
        "image_pull_policy": variables.get("image_pull_policy", "Never"),
        "placement": {"node_selector": dict(node_selector), "tolerations": copy.deepcopy(tolerations)},
        "ingress": {"class": str(variables.get("ingress_class") or ""), "domain": domain, "port": ingress_port},
        "components": components,
        "datastores": datastores,
        "jobs": jobs,
        "selector": {"app.kubernetes.io/part-of": name, "app.kubernetes.io/managed-by": MANAGED_BY},
        "managed_kinds": [k.as_dict() for k in MANAGED_KINDS],
        # Teardown goes against the apply order, and takes the runbooks' ConfigMaps too.
        "teardown_kinds": [k.as_dict() for k in reversed(MANAGED_KINDS)] + [CONFIGMAP.as_dict()],
        "workloads": {**{c["name"]: DEPLOYMENT.kind for c in components},
                      **{s["name"]: STATEFULSET.kind for s in datastores}},
        "urls": [_url(c["host"], ingress_port) for c in components if c["host"]],
        "has_mongodb": any(s["name"] == "mongodb" for s in datastores),
    }


# The kinds slipway writes in the namespace and the verbs it writes them with: server-side apply
# (get, create, patch), the deploy's reads and pruning (list, delete), the runbooks' teardown with
# purge (delete); the workloads it waits for are watched too. Then what it only reads to judge
# a rollout and to roll one back (patch through the workload, pods deleted by a restart).
WRITTEN = (SECRET, CONFIGMAP, SERVICE, PVC, DEPLOYMENT, STATEFULSET, JOB, INGRESS, HPA)
WATCHED = {DEPLOYMENT, STATEFULSET, JOB}
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
    granted = [{"resource": NAMESPACE.plural, "name": model["namespace"], "verbs": ["get", "create", "patch"],
                "cluster": True}]
    for kind in WRITTEN:
        group = kind.api_version.rpartition("/")[0]
        verbs = ["get", "list"] + (["watch"] if kind in WATCHED else []) + ["create", "patch", "delete"]
        granted.append({**({"group": group} if group else {}), "resource": kind.plural, "verbs": verbs})
    return granted + [dict(entry) for entry in READ]


def _url(host: str, port: int) -> str:
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
        SERVICE.kind: [c["name"] for c in components if c["port"] is not None] + [s["name"] for s in stores],
        STATEFULSET.kind: [s["name"] for s in stores],
        DEPLOYMENT.kind: [c["name"] for c in components],
        INGRESS.kind: [model["name"]] if any(c["host"] for c in components) else [],
        HPA.kind: [c["name"] for c in components if c["hpa"]],
        JOB.kind: list(job_names),
    }
