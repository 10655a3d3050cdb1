# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RBAC rules from the permission list the preflight reviews: what is checked is what is granted."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError


def rbac_rules(permissions: list[dict[str, Any]], cluster: bool = False) -> list[dict[str, Any]]:
    """The PolicyRules of a Role (`cluster=False`: the namespaced entries) or of a ClusterRole
    (`cluster=True`: the entries marked `cluster: true`).

    Entries naming the same group, resource, subresource and object are merged into one rule,
    their verbs in first-seen order; an entry with a `name` becomes a rule restricted to that
    object by resourceNames.
    """
    rules: dict[tuple, dict[str, Any]] = {}
    for index, entry in enumerate(permissions or []):
        if not isinstance(entry, dict) or not entry.get("resource") or not entry.get("verbs"):
            raise AnsibleFilterError(f"permission {index} needs a resource and verbs: {entry!r}")
        if bool(entry.get("cluster", False)) != cluster:
            continue
        resource = entry["resource"] + (f"/{entry['subresource']}" if entry.get("subresource") else "")
        group, name = str(entry.get("group") or ""), str(entry.get("name") or "")
        rule = rules.setdefault((group, resource, name), {
            "apiGroups": [group], "resources": [resource], "verbs": [],
            **({"resourceNames": [name]} if name else {}),
        })
        verbs = [entry["verbs"]] if isinstance(entry["verbs"], str) else entry["verbs"]
        rule["verbs"].extend(str(verb) for verb in verbs if str(verb) not in rule["verbs"])
    return list(rules.values())


def rbac_grants(permissions: list[dict[str, Any]], projects: bool = False) -> list[dict[str, Any]]:
    """What a deployer is granted: with `projects` (OpenShift) only the entries that make the
    namespace (`creates_namespace`: projectrequests create), whose project's admin role grants
    the rest; else every other entry, since the namespace is there already."""
    return [entry for entry in permissions or [] if bool(entry.get("creates_namespace")) == projects]


class FilterModule:
    def filters(self):
        return {"rbac_rules": rbac_rules, "rbac_grants": rbac_grants}
