# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the deploy's identity must be allowed to do, and how a denied permission reads.

One SelfSubjectRulesReview lists the rules the identity has in the namespace; every namespaced
check those rules grant is settled by it. The rest (the cluster-wide checks, which a namespace's
rules cannot settle, and anything the rules do not grant: a rules review may be incomplete, and
other authorizers than RBAC may allow) get a SelfSubjectAccessReview each, the authoritative
answer. Pure functions: the module sends the reviews."""

from __future__ import annotations

from typing import Any


class PermissionSpecError(ValueError):
    """A permission entry that cannot be turned into reviews."""


def expand_permissions(permissions: list[dict[str, Any]], namespace: str) -> list[dict[str, str]]:
    """One check per verb of each entry {resource, group?, subresource?, name?, verbs, cluster?}.

    Entries with `cluster: true` (namespaces, say) are reviewed cluster-wide; the others in
    `namespace`. An entry with a `name` asks about that one object, as a Role restricted by
    resourceNames grants it. Duplicates are dropped, the order kept.
    """
    checks: dict[tuple, dict[str, str]] = {}
    for index, entry in enumerate(permissions or []):
        if not isinstance(entry, dict) or not entry.get("resource"):
            raise PermissionSpecError(f"permission {index} needs a resource: {entry!r}")
        verbs = entry.get("verbs")
        if isinstance(verbs, str):
            verbs = [verbs]
        if not verbs:
            raise PermissionSpecError(f"permission {index} ({entry['resource']}) needs verbs")
        cluster_wide = bool(entry.get("cluster", False))
        if not cluster_wide and not namespace:
            raise PermissionSpecError(f"permission {index} ({entry['resource']}) is namespaced: give a namespace")
        for verb in verbs:
            check = {
                "verb": str(verb),
                "group": str(entry.get("group") or ""),
                "resource": str(entry["resource"]),
                "subresource": str(entry.get("subresource") or ""),
                "name": str(entry.get("name") or ""),
                "namespace": "" if cluster_wide else str(namespace),
            }
            checks.setdefault(tuple(check.values()), check)
    return list(checks.values())


def to_review(permissions: list[dict[str, Any]], namespace: str,
              namespace_visible: bool | None) -> tuple[list[dict[str, Any]], str]:
    """The permissions to review, and a sentence saying why, when some only make the namespace
    (`creates_namespace`, OpenShift's projectrequests create): with the namespace there for the
    identity (`namespace_visible`), every other one; without it, only the cluster-wide ones and
    those that make it. The namespaced ones cannot be granted before the namespace exists, and
    come with it: a project's admin role grants its requester all of slipway's. None: not asked
    (no entry makes the namespace), every entry is reviewed."""
    makers = [entry for entry in permissions if entry.get("creates_namespace")]
    if namespace_visible is None or not makers:
        return list(permissions), ""
    if namespace_visible:
        return [entry for entry in permissions if not entry.get("creates_namespace")], ""
    kept = [entry for entry in permissions if entry.get("cluster")]
    asked = "; ".join(describe(check) for check in expand_permissions(makers, namespace))
    note = (f"namespace {namespace} does not exist (or the identity may not see it): it will be requested "
            f"({asked}); the namespaced permissions come with the project's admin role and are checked once it "
            "is made")
    return kept, note


def rules_review_body(namespace: str) -> dict[str, Any]:
    """The SelfSubjectRulesReview that lists the identity's rules in `namespace`."""
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace}}


def rule_grants(rule: dict[str, Any], check: dict[str, str]) -> bool:
    """Whether one resource rule (verbs, apiGroups, resources, resourceNames) allows `check`,
    matched as RBAC matches: "*" for any verb, group or resource, "*/sub" for a subresource of
    any resource, and resourceNames restricting the rule to the objects named."""
    verbs, groups = rule.get("verbs") or [], rule.get("apiGroups") or []
    if not ({"*", check["verb"]} & set(verbs) and {"*", check["group"]} & set(groups)):
        return False
    wanted = {"*", check["resource"]}
    if check["subresource"]:
        wanted = {"*", f"{check['resource']}/{check['subresource']}", f"*/{check['subresource']}"}
    if not wanted & set(rule.get("resources") or []):
        return False
    names = rule.get("resourceNames") or []
    return not names or check["name"] in names


def settled_by_rules(checks: list[dict[str, str]], rules_status: dict[str, Any]) -> list[dict[str, Any] | None]:
    """For each check, the status the rules review gives it (allowed), or None where only a
    SelfSubjectAccessReview can tell: a cluster-wide check, or one the rules do not grant."""
    rules = (rules_status or {}).get("resourceRules") or []
    statuses: list[dict[str, Any] | None] = []
    for check in checks:
        granted = check["namespace"] and any(rule_grants(rule, check) for rule in rules)
        statuses.append({"allowed": True, "reason": "granted by the namespace's rules"} if granted else None)
    return statuses


def review_body(check: dict[str, str]) -> dict[str, Any]:
    """The SelfSubjectAccessReview that asks whether `check` is allowed."""
    attributes = {key: check[key] for key in ("verb", "group", "resource", "subresource", "name", "namespace")
                  if check[key]}
    attributes.setdefault("group", "")
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }


def review_all(checks: list[dict[str, str]], namespace: str, send) -> list[dict[str, Any]]:
    """The status of each check: one SelfSubjectRulesReview in `namespace` when a check is
    namespaced, then a SelfSubjectAccessReview for each check the rules do not settle.
    `send(body)` posts a review and returns its status as a dict."""
    statuses: list[dict[str, Any] | None] = [None] * len(checks)
    if any(check["namespace"] for check in checks):
        statuses = settled_by_rules(checks, send(rules_review_body(namespace)))
    return [status if status is not None else send(review_body(check)) or {}
            for check, status in zip(checks, statuses)]


def describe(check: dict[str, str]) -> str:
    """`create deployments.apps in namespace shop`, `patch namespaces/shop (cluster-wide)`."""
    what = check["resource"] + (f".{check['group']}" if check["group"] else "")
    if check.get("name"):
        what += f"/{check['name']}"
    if check["subresource"]:
        what += f"/{check['subresource']}"
    where = f"in namespace {check['namespace']}" if check["namespace"] else "(cluster-wide)"
    return f"{check['verb']} {what} {where}"


def summarize(checks: list[dict[str, str]], statuses: list[dict[str, Any]]) -> dict[str, Any]:
    """Pair checks with their review statuses: every review, and the denied ones as sentences."""
    reviews = []
    for check, status in zip(checks, statuses):
        allowed = bool((status or {}).get("allowed"))
        reviews.append({**check, "allowed": allowed, "reason": (status or {}).get("reason") or "",
                        "description": describe(check)})
    missing = [f"cannot {review['description']}" for review in reviews if not review["allowed"]]
    return {"reviews": reviews, "missing": missing}
