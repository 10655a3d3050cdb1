# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubernetes.core's connection options from slipway's two settings, the one way every role
leaves an empty setting out; and which credential those options come to, in words."""

from __future__ import annotations


def k8s_connection(kubeconfig: str | None, context: str | None = "") -> dict[str, str]:
    """`{kubeconfig, context}` without the empty ones: kubernetes.core (and our modules, which
    share its options) then fall back to the K8S_AUTH_* variables AWX's credential injects, or
    to ~/.kube/config and its current context."""
    return {key: str(value) for key, value in (("kubeconfig", kubeconfig), ("context", context))
            if value not in (None, "")}


def k8s_identity(kubeconfig: str | None, context: str | None, environment: dict) -> str:
    """Which credential kubernetes.core will use, as a message names it: the settings, else the
    K8S_AUTH_* variables (AWX's credential), else KUBECONFIG or ~/.kube/config. `environment`
    holds those variables' values, but for K8S_AUTH_API_KEY only whether it is set."""
    env = {key: value for key, value in (environment or {}).items() if value not in (None, "", False)}
    where = f"context {context}" if context else "current context"
    if kubeconfig:
        return f"{where} of {kubeconfig}"
    if env.get("K8S_AUTH_API_KEY"):
        return f"the token in K8S_AUTH_API_KEY for {env.get('K8S_AUTH_HOST', 'the default API server')}"
    if env.get("K8S_AUTH_KUBECONFIG"):
        named = f"context {env['K8S_AUTH_CONTEXT']}" if env.get("K8S_AUTH_CONTEXT") else where
        return f"{named} of K8S_AUTH_KUBECONFIG ({env['K8S_AUTH_KUBECONFIG']})"
    if env.get("KUBECONFIG"):
        return f"{where} of KUBECONFIG ({env['KUBECONFIG']})"
    return f"{where} of ~/.kube/config"


class FilterModule:
    def filters(self):
        return {"k8s_connection": k8s_connection, "k8s_identity": k8s_identity}
