# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over slipway's app description: what is wrong with it, and what each part runs."""

from __future__ import annotations

import re


DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
PERCENT_OR_COUNT = re.compile(r"^(\d+%?)$")


def _int(value) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _check_range(errors: list[str], where: str, value, low: int, high: int | None) -> None:
    number = _int(value)
    if number is None:
        errors.append(f"{where}: {value!r} is not a whole number")
    elif number < low or (high is not None and number > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        errors.append(f"{where}: {number} is outside {bound}")


def app_spec_errors(components: list[dict], jobs: list[dict] | None = None) -> list[str]:
    """What argument specs cannot check (ranges, references between components, names Kubernetes
    accepts), one message per problem naming the variable, e.g.
    `slipway_app_components[1] (web).port: 70000 is outside 1..65535`. Empty when valid."""
    errors: list[str] = []
    names: list[str] = []
    for index, component in enumerate(components or []):
        where = f"slipway_app_components[{index}]"
        name = component.get("name")
        if not name:
            errors.append(f"{where}.name is missing")
            continue
        where = f"{where} ({name})"
        if not DNS_LABEL.match(str(name)):
            errors.append(f"{where}.name: {name!r} is not a DNS label (lower case, digits, '-')")
        if name in names:
            errors.append(f"{where}.name: {name!r} is used twice")
        names.append(name)
        sources = [key for key in ("build", "image", "image_of") if component.get(key)]
        if len(sources) != 1:
            errors.append(f"{where}: give exactly one of build, image or image_of (got {sources or 'none'})")
        if "replicas" in component:
            _check_range(errors, f"{where}.replicas", component["replicas"], 0, None)
        if "port" in component:
            _check_range(errors, f"{where}.port", component["port"], 1, 65535)
        strategy = component.get("strategy") or {}
        unknown = set(strategy) - {"max_surge", "max_unavailable", "type"}
        if unknown:
            errors.append(f"{where}.strategy: unknown keys {sorted(unknown)} (max_surge, max_unavailable, type)")
        if strategy.get("type", "RollingUpdate") not in ("RollingUpdate", "Recreate"):
            errors.append(f"{where}.strategy.type: {strategy['type']!r} is not RollingUpdate or Recreate")
        for key in ("max_surge", "max_unavailable"):
            if key in strategy and not PERCENT_OR_COUNT.match(str(strategy[key])):
                errors.append(f"{where}.strategy.{key}: {strategy[key]!r} is not a count or a percentage")
        hpa = component.get("hpa")
        if hpa:
            _check_range(errors, f"{where}.hpa.min_replicas", hpa.get("min_replicas", 1), 1, None)
            _check_range(errors, f"{where}.hpa.max_replicas", hpa.get("max_replicas", 0),
                         _int(hpa.get("min_replicas", 1)) or 1, None)
        if component.get("ingress_host") and "port" not in component:
            errors.append(f"{where}.ingress_host needs a port to route to")
    for index, component in enumerate(components or []):
        target = component.get("image_of")
        if target and target not in names:
            errors.append(f"slipway_app_components[{index}].image_of: no component named {target!r}")
    for index, job in enumerate(jobs or []):
        where = f"slipway_app_jobs[{index}]"
        if not DNS_LABEL.match(str(job.get("name", ""))) or len(str(job.get("name", ""))) > 50:
            errors.append(f"{where}.name: {job.get('name')!r} is not a DNS label of at most 50 characters")
        if not (job.get("image") or job.get("image_of")):
            errors.append(f"{where}: give image or image_of")
        elif job.get("image_of") and job["image_of"] not in names:
            errors.append(f"{where}.image_of: no component named {job['image_of']!r}")
        if "backoff_limit" in job:
            _check_range(errors, f"{where}.backoff_limit", job["backoff_limit"], 0, None)
    return errors


def app_build_images(components: list[dict], app_name: str) -> list[dict]:
    """The image_build role's input: one image per component that is built from source."""
    return [
        {"name": c["name"], "repository": f"slipway/{app_name}-{c['name']}", **c["build"]}
        for c in components
        if c.get("build")
    ]


def app_images(components: list[dict], built: dict[str, str]) -> dict[str, str]:
    """Component name -> image reference: its own `image`, what was built for it, or its `image_of`'s."""
    direct = {c["name"]: c.get("image") or built.get(c["name"]) for c in components}
    return {c["name"]: direct[c["image_of"]] if c.get("image_of") else direct[c["name"]] for c in components}


def app_prebuilt_images(components: list[dict], datastores: list[dict]) -> list[str]:
    """The images the app runs but does not build: components' own `image` and enabled data
    stores' (with their tools' image, that of MongoDB's backup and restore Jobs, if it has one)."""
    images = [c["image"] for c in components if c.get("image")]
    images += [store["image"] for store in datastores if _enabled(store)]
    images += [store["tools_image"] for store in datastores if _enabled(store) and store.get("tools_image")]
    return sorted(set(images))


def _enabled(store: dict) -> bool:
    return str(store.get("enabled", True)).lower() not in ("false", "no", "0", "off")


def app_expected_objects(components: list[dict], datastores: list[str], jobs: list[str], app_name: str) -> dict:
    """Kind -> names of the objects the description calls for (what pruning keeps)."""
    return {
        "Deployment": [c["name"] for c in components],
        "StatefulSet": list(datastores),
        "Service": [c["name"] for c in components if c.get("port")] + list(datastores),
        "Ingress": [app_name] if any(c.get("ingress_host") for c in components) else [],
        "HorizontalPodAutoscaler": [c["name"] for c in components if c.get("hpa")],
        "Job": list(jobs),
    }


def prunable_objects(objects: list[dict], expected: dict[str, list[str]]) -> list[dict]:
    """The managed objects the description no longer calls for; kinds not in `expected` are never pruned."""
    return [
        obj for obj in objects
        if obj["kind"] in expected and obj["metadata"]["name"] not in expected[obj["kind"]]
    ]


def workload_summary(obj: dict) -> str:
    """`deployment/backend: 2/2 ready, slipway/demo-backend:1a2b` for the run's closing summary."""
    status = obj.get("status") or {}
    desired = (obj.get("spec") or {}).get("replicas", 1)
    images = ", ".join(c["image"] for c in obj["spec"]["template"]["spec"]["containers"])
    return f"{obj['kind'].lower()}/{obj['metadata']['name']}: {status.get('readyReplicas', 0)}/{desired} ready, {images}"


def _ref(obj: dict) -> str:
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


def _content_changed(diff: dict | None) -> bool:
    return diff is None or diff.get("before") != diff.get("after")


def changed_objects(applied: list[dict], pruned: dict | None = None) -> list[str]:
    """`Kind/name` of every object the run changed (or would, in check mode), from the
    registered results of kubernetes.core.k8s applies (one definition or several) and of the
    prune loop; skipped tasks count for nothing. Drift detection reads this.

    Where a diff was computed (--diff) an object whose diff is empty once the hidden fields
    are left out did not change in content: only who manages a field moved, as when an HPA
    takes over a Deployment's replicas.
    """
    changed = []
    for registered in applied:
        if not registered or registered.get("skipped") or not registered.get("changed"):
            continue
        result = registered.get("result") or {}
        items = result["results"] if "results" in result else [registered]
        changed.extend(_ref(item.get("result") or {}) for item in items
                       if item.get("changed") and _content_changed(item.get("diff")))
    for deleted in (pruned or {}).get("results") or []:
        if deleted.get("changed"):
            changed.append(f"{_ref(deleted['item'])} (to prune)")
    return changed


class FilterModule:
    def filters(self):
        return {
            "app_spec_errors": app_spec_errors,
            "app_build_images": app_build_images,
            "app_images": app_images,
            "app_prebuilt_images": app_prebuilt_images,
            "app_expected_objects": app_expected_objects,
            "prunable_objects": prunable_objects,
            "workload_summary": workload_summary,
            "changed_objects": changed_objects,
        }
