#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_access_review
short_description: Ask the API server what the current identity may do (SelfSubjectAccessReview)
description:
  - Sends one C(authorization.k8s.io/v1) SelfSubjectAccessReview for each verb of each permission
    and reports which are denied, as sentences such as C(cannot create deployments.apps in
    namespace shop). It does not fail on a denial; the caller decides.
  - Connects as M(kubernetes.core.k8s) does, from the connection options, else the
    C(K8S_AUTH_*) environment variables, else the default kubeconfig.
version_added: "1.0.0"
author:
  - slipway maintainers
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  permissions:
    description:
      - What to review. Each item has C(resource), C(verbs), and optionally C(group) (empty for
        the core group), C(subresource), and C(cluster=true) for a cluster-wide review.
    type: list
    elements: dict
    required: true
  namespace:
    description: The namespace the namespaced permissions are reviewed in.
    type: str
    default: default
attributes:
  check_mode:
    support: full
    description: Reviews change nothing; they are sent in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Never changes anything.
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
missing:
  description: The denied permissions, as C(cannot VERB RESOURCE[.GROUP] in namespace NS) or C((cluster-wide)).
  type: list
  elements: str
  returned: always
reviews:
  description: Every review (verb, group, resource, subresource, namespace, allowed, reason, description).
  type: list
  elements: dict
  returned: always
"""

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:  # k8s_module reports the missing collection
    get_api_client = None
    CoreException = Exception

from ansible.module_utils.kube_module import k8s_module

from ansible.module_utils.access_review import PermissionSpecError, expand_permissions, review_body, summarize


def main():
    module = k8s_module({
        "permissions": {"type": "list", "elements": "dict", "required": True},
        "namespace": {"type": "str", "default": "default"},
    })
    try:
        checks = expand_permissions(module.params["permissions"], module.params["namespace"])
    except PermissionSpecError as err:
        module.fail_json(msg=str(err))
    try:
        from kubernetes.client import AuthorizationV1Api

        api = AuthorizationV1Api(get_api_client(module=module).client.client)
        statuses = []
        for check in checks:
            review = api.create_self_subject_access_review(body=review_body(check))
            statuses.append(review.status.to_dict() if review.status else {})
    except CoreException as err:
        module.fail_json(msg=str(err))
    except Exception as err:  # connection, TLS and API errors reach us in many types
        status = getattr(err, "status", None)
        detail = getattr(err, "reason", None) or str(err)
        module.fail_json(msg=f"cannot review permissions with the API server: "
                             f"{status or type(err).__name__}: {detail}")
    module.exit_json(changed=False, **summarize(checks, statuses))


if __name__ == "__main__":
    main()
