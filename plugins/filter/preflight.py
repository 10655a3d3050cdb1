# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the cluster's Kubernetes version is one slipway supports."""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError


def _minor(version) -> tuple[int, int]:
    match = re.match(r"\s*v?(\d+)\.(\d+)", str(version))
    if not match:
        raise AnsibleFilterError(f"not a Kubernetes version: {version!r}")
    return int(match.group(1)), int(match.group(2))


def kube_version_problem(git_version: str, minimum: str, maximum: str = "") -> str:
    """'' when `git_version` (v1.36.3, v1.34.2-gke.1) is within [minimum, maximum] by minor
    version, else a sentence saying why not. An empty maximum has no upper bound."""
    have = _minor(git_version)
    if minimum and have < _minor(minimum):
        return f"Kubernetes {git_version} is older than {minimum}, the oldest version supported"
    if maximum and have > _minor(maximum):
        return (f"Kubernetes {git_version} is newer than {maximum}, the newest version tested "
                f"(set cluster_preflight_max_version to allow it)")
    return ""


class FilterModule:
    def filters(self):
        return {"kube_version_problem": kube_version_problem}
