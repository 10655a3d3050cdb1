"""The sandbox's stand-in for OpenShift's ProjectRequest API (see openshift.py): for every
ProjectRequest, the namespace (this shape's labels, a UID range of its own, the requester and what
the request says of the project) and the requester's RoleBinding to `admin`; then the request is
deleted, as OpenShift keeps none. On OpenShift the API server does all of this itself.

A namespace that exists already is never handed over: its request is deleted and nothing is
bound (OpenShift refuses such a request with 409 AlreadyExists; here the requester is left without
access, which is what it sees). A namespace this process made for the same requester (a pass cut
short) gets its binding.

    python -m slipway_sandbox.projects --kubeconfig K --health-port N

GET http://127.0.0.1:N/healthz answers 200 while the requests and the namespaces are listed and
watched, 503 otherwise. Actions are logged on stdout, one line each; errors on stderr.
"""

from __future__ import annotations

import argparse
import threading

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from . import openshift
from .watching import FAILURES, Informer, Obj, annotations_of, name_of, reconcile_on_change, say


def handed_over(request: Obj, namespaces: dict[str, Obj]) -> bool | None:
    """Whether the request's namespace is the requester's to bind: True when it is missing (to
    be made) or was made for this requester; False when it is somebody else's; None when the
    request names no requester (sent before the policy that records it was in place)."""
    requester = openshift.requester_of(request)
    if not requester:
        return None
    existing = namespaces.get(name_of(request))
    return existing is None or annotations_of(existing).get(openshift.REQUESTER) == requester


class Reconciler:
    def __init__(self, core: client.CoreV1Api, rbac: client.RbacAuthorizationV1Api,
                 custom: client.CustomObjectsApi) -> None:
        self._core, self._rbac, self._custom = core, rbac, custom

    def reconcile(self, requests: list[Obj], namespaces: list[Obj]) -> bool:
        """Acts on one view of the cluster; False when an action failed and is worth retrying."""
        by_name = {name_of(namespace): namespace for namespace in namespaces}
        succeeded = True
        for request in requests:
            name = name_of(request)
            try:
                verdict = handed_over(request, by_name)
                if verdict:
                    if name not in by_name:
                        made = self._make(request, list(by_name.values()))
                        if made is None:  # made by an earlier pass, not yet in our copy: judged next pass
                            continue
                        by_name[name] = made
                    self._bind(request)
                else:
                    say(f"project {name}: not handed over ("
                        + ("its namespace exists" if verdict is False else "no requester recorded") + ")",
                        error=True)
                self._consume(request)
            except FAILURES as error:
                say(f"project {name} failed: {error}", error=True)
                succeeded = False
        return succeeded

    def _make(self, request: Obj, namespaces: list[Obj]) -> Obj | None:
        """The namespace made, or None when it exists already."""
        namespace = openshift.project_namespace(request, openshift.free_uid_range(namespaces))
        try:
            self._core.create_namespace(body=namespace)
        except ApiException as error:
            if error.status == 409:
                return None
            raise
        say(f"project {name_of(request)}: namespace made for {openshift.requester_of(request)}, "
            f"UIDs {namespace['metadata']['annotations'][openshift.UID_RANGE]}")
        return namespace

    def _bind(self, request: Obj) -> None:
        binding = openshift.admin_binding(request)
        try:
            self._rbac.create_namespaced_role_binding(name_of(request), body=binding)
        except ApiException as error:
            if error.status != 409:  # bound by an earlier pass
                raise
            return
        say(f"project {name_of(request)}: {openshift.requester_of(request)} bound to admin")

    def _consume(self, request: Obj) -> None:
        try:
            self._custom.delete_cluster_custom_object(openshift.PROJECTS_GROUP, "v1", "projectrequests",
                                                      name_of(request))
        except ApiException as error:
            if error.status != 404:  # consumed by an earlier pass
                raise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m slipway_sandbox.projects",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--health-port", required=True, type=int)
    args = parser.parse_args(argv)

    def api() -> client.ApiClient:
        # One client per thread: each watch holds a connection of its own for minutes.
        return config.new_client_from_config(config_file=args.kubeconfig)

    changed = threading.Event()

    def list_requests(**options):
        return client.CustomObjectsApi(api_client).list_cluster_custom_object(
            openshift.PROJECTS_GROUP, "v1", "projectrequests", **options)

    api_client = api()
    requests = Informer("projectrequests", list_requests, changed)
    namespaces = Informer("namespaces", client.CoreV1Api(api()).list_namespace, changed)
    worker = api()
    reconciler = Reconciler(client.CoreV1Api(worker), client.RbacAuthorizationV1Api(worker),
                            client.CustomObjectsApi(worker))
    say("serving ProjectRequests (project.openshift.io/v1), a stand-in for OpenShift's API")
    reconcile_on_change(args.health_port, [requests, namespaces], changed,
                        lambda: reconciler.reconcile(requests.objects(), namespaces.objects()))


if __name__ == "__main__":
    main()
