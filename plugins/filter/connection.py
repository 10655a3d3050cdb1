# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubernetes.core's connection options from slipway's two settings, the one way every role
leaves an empty setting out."""

from __future__ import annotations


def k8s_connection(kubeconfig: str | None, context: str | None = "") -> dict[str, str]:
    """`{kubeconfig, context}` without the empty ones: kubernetes.core (and our modules, which
    share its options) then fall back to the K8S_AUTH_* variables AWX's credential injects, or
    to ~/.kube/config and its current context."""
    return {key: str(value) for key, value in (("kubeconfig", kubeconfig), ("context", context))
            if value not in (None, "")}


class FilterModule:
    def filters(self):
        return {"k8s_connection": k8s_connection}
