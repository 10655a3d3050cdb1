"""What rollout_wait waits for: supported kinds, target specs and label selectors (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kind -> (API path prefix, plural). The only kinds whose rollouts have a defined end.
KINDS = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "Job": ("/apis/batch/v1", "jobs"),
}

# The spellings kubectl accepts for these kinds, so `sts/db` or `deploy/web` work as targets.
_ALIASES = {
    "deploy": "Deployment",
    "sts": "StatefulSet",
    "ds": "DaemonSet",
    "rs": "ReplicaSet",
}

# A selector also matches the ReplicaSets a Deployment owns, which are waited for through it.
DEFAULT_SELECTOR_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")

_TARGET_KEYS = {"kind", "name", "namespace"}


class TargetError(ValueError):
    """A target or selector the user wrote that cannot be waited for."""


@dataclass(frozen=True, order=True)
class Target:
    kind: str
    namespace: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SelectorSpec:
    namespace: str
    kinds: tuple[str, ...]
    requirements: tuple[Requirement, ...]
    text: str


def canonical_kind(text: str) -> str:
    lowered = str(text).strip().lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    for kind, (_, plural) in KINDS.items():
        if lowered in (kind.lower(), plural):
            return kind
    supported = ", ".join(KINDS)
    raise TargetError(f"unsupported kind '{text}': rollout_wait waits for {supported}")


def parse_targets(items, default_namespace: str) -> list[Target]:
    """Accept `kind/name` strings and {kind, name, namespace} dicts; keep order, drop duplicates."""
    targets: list[Target] = []
    for item in items or []:
        if isinstance(item, str):
            kind, sep, name = item.partition("/")
            if not sep or not name or "/" in name:
                raise TargetError(f"target '{item}' is not of the form kind/name")
            target = Target(canonical_kind(kind), default_namespace, name.strip())
        elif isinstance(item, dict):
            unknown = set(item) - _TARGET_KEYS
            if unknown:
                raise TargetError(f"target {item!r} has unknown keys: {', '.join(sorted(unknown))}")
            if not item.get("kind") or not item.get("name"):
                raise TargetError(f"target {item!r} needs both kind and name")
            target = Target(canonical_kind(item["kind"]), item.get("namespace") or default_namespace,
                            str(item["name"]))
        else:
            raise TargetError(f"target {item!r} must be a kind/name string or a dict")
        if target not in targets:
            targets.append(target)
    return targets


_REQUIREMENT = re.compile(
    r"""^\s*(?:
        (?P<absent>!)\s*(?P<akey>[^\s=!(),]+)                      # !key
      | (?P<skey>[^\s=!(),]+)\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)  # key in (a,b)
      | (?P<ekey>[^\s=!(),]+)\s*(?P<eqop>==|=|!=)\s*(?P<value>[^\s=!(),]*)  # key=value
      | (?P<xkey>[^\s=!(),]+)                                      # key
    )\s*$""",
    re.VERBOSE,
)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside a set's parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_selector(selector) -> tuple[Requirement, ...]:
    """Parse a label selector in kubectl's syntax, or a dict of required labels."""
    if isinstance(selector, dict):
        return tuple(Requirement(str(key), "=", (str(value),)) for key, value in selector.items())
    requirements = []
    for part in _split_top_level(str(selector)):
        match = _REQUIREMENT.match(part)
        if not match:
            raise TargetError(f"cannot parse label selector requirement '{part.strip()}'")
        if match["absent"]:
            requirements.append(Requirement(match["akey"], "!"))
        elif match["setop"]:
            values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append(Requirement(match["skey"], match["setop"], values))
        elif match["eqop"]:
            operator = "!=" if match["eqop"] == "!=" else "="
            requirements.append(Requirement(match["ekey"], operator, (match["value"],)))
        else:
            requirements.append(Requirement(match["xkey"], "exists"))
    if not requirements:
        raise TargetError("the label selector is empty: it would match every workload")
    return tuple(requirements)


def selector_matches(requirements, labels: dict | None) -> bool:
    labels = labels or {}
    for req in requirements:
        present = req.key in labels
        value = labels.get(req.key)
        if req.operator == "=" and value != req.values[0]:
            return False
        if req.operator == "!=" and present and value == req.values[0]:
            return False
        if req.operator == "in" and value not in req.values:
            return False
        if req.operator == "notin" and present and value in req.values:
            return False
        if req.operator == "exists" and not present:
            return False
        if req.operator == "!" and present:
            return False
    return True


def parse_selector_spec(selector, kinds, namespace: str) -> SelectorSpec | None:
    if selector in (None, "", {}):
        return None
    canonical = (tuple(dict.fromkeys(canonical_kind(kind) for kind in kinds)) if kinds
                 else DEFAULT_SELECTOR_KINDS)
    text = selector if isinstance(selector, str) else ",".join(f"{k}={v}" for k, v in selector.items())
    return SelectorSpec(namespace, canonical, parse_selector(selector), text)
