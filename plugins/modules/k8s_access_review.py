#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_access_review
short_description: Ask the API server its version and what the current identity may do
description:
  - Reads the server's version, then settles each verb of each permission and reports which are
    denied, as sentences such as C(cannot create deployments.apps in namespace shop). It does
    not fail on a denial; the caller decides.
  - One C(authorization.k8s.io/v1) SelfSubjectRulesReview settles the namespaced permissions its
    rules grant; each of the others (the cluster-wide ones, and any the rules do not grant, since
    a rules review may be incomplete and other authorizers may allow) gets a
    SelfSubjectAccessReview, the authoritative answer. A denial is always an access review's.
  - Permissions marked C(creates_namespace) (OpenShift's C(projectrequests) create) are needed
    only while the namespace is not there. The module reads the namespace first, and reviews
    them instead of the namespaced permissions when the identity cannot see it (absent, or not
    its own), since those come with the project it requests; RV(note) says so.
  - Connects as M(kubernetes.core.k8s) does, from the connection options, else the
    C(K8S_AUTH_*) environment variables, else the default kubeconfig.
version_added: "1.0.0"
author:
  - slipway maintainers
extends_documentation_fragment:
  - read_only
  - kubernetes.core.k8s_auth_options
options:
  permissions:
    description:
      - What to review. Each item has C(resource), C(verbs), and optionally C(group) (empty for
        the core group), C(subresource), C(name), C(cluster=true) for a cluster-wide review, and
        C(creates_namespace=true) for one that makes the namespace (reviewed only while it is not there).
    type: list
    elements: dict
    required: true
  namespace:
    description: The namespace the namespaced permissions are reviewed in.
    type: str
    default: default
"""

EXAMPLES = r"""
- name: May we create Deployments in shop?
  k8s_access_review:
    namespace: shop
    permissions:
      - {group: apps, resource: deployments, verbs: [get, create, patch]}
      - {resource: namespaces, verbs: [get, create], cluster: true}
  register: access
"""

RETURN = r"""
server_version:
  description: The API server's version (C(gitVersion)), such as C(v1.36.3).
  type: str
  returned: always
  sample: v1.36.3
unreachable:
  description: True when the module failed because the API server could not be reached (no HTTP answer).
  type: bool
  returned: failure
missing:
  description: The denied permissions, as C(cannot VERB RESOURCE[.GROUP] in namespace NS) or C((cluster-wide)).
  type: list
  elements: str
  returned: always
namespace_visible:
  description: Whether the identity can read the namespace; only asked when a permission C(creates_namespace).
  type: bool
  returned: when a permission creates_namespace
note:
  description: Why the namespaced permissions were not reviewed (the namespace is to be requested), or empty.
  type: str
  returned: always
  sample: >-
    namespace shop does not exist (or the identity may not see it): it will be requested (create
    projectrequests.project.openshift.io (cluster-wide)); the namespaced permissions come with the
    project's admin role and are checked once it is made
reviews:
  description:
    - Every permission checked (verb, group, resource, subresource, name, namespace, allowed,
      reason, description); the reason of one the rules review settled says so.
  type: list
  elements: dict
  returned: always
"""

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
except ImportError:  # k8s_module reports the missing collection
    get_api_client = None

from ansible.module_utils.kube_module import fail_unanswered, k8s_module

from ansible.module_utils.access_review import PermissionSpecError, expand_permissions, review_all, summarize, to_review

# The answers that say the identity cannot see a namespace: it is absent, or not its own.
NOT_VISIBLE = (403, 404)


def main():
    module = k8s_module({
        "permissions": {"type": "list", "elements": "dict", "required": True},
        "namespace": {"type": "str", "default": "default"},
    })
    namespace, permissions = module.params["namespace"], module.params["permissions"]
    try:
        expand_permissions(permissions, namespace)
    except PermissionSpecError as err:
        module.fail_json(msg=str(err))
    try:
        from kubernetes.client import AuthorizationV1Api, CoreV1Api, VersionApi
        from kubernetes.client.exceptions import ApiException

        api_client = get_api_client(module=module).client.client
        server_version = VersionApi(api_client).get_code().git_version
        visible = None
        if any(entry.get("creates_namespace") for entry in permissions):
            try:
                CoreV1Api(api_client).read_namespace(namespace)
                visible = True
            except ApiException as err:
                if err.status not in NOT_VISIBLE:
                    raise
                visible = False
        reviewed, note = to_review(permissions, namespace, visible)
        checks = expand_permissions(reviewed, namespace)
        api = AuthorizationV1Api(api_client)

        def send(body: dict) -> dict:
            post = (api.create_self_subject_rules_review if body["kind"] == "SelfSubjectRulesReview"
                    else api.create_self_subject_access_review)
            return api_client.sanitize_for_serialization(post(body=body).status) or {}

        statuses = review_all(checks, namespace, send)
    except Exception as err:  # connection, TLS and API errors reach us in many types
        fail_unanswered(module, err, "the review")
    extra = {} if visible is None else {"namespace_visible": visible}
    module.exit_json(changed=False, server_version=server_version, note=note, **extra,
                     **summarize(checks, statuses))


if __name__ == "__main__":
    main()
