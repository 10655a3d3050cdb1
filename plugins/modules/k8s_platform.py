#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_platform
short_description: Whether the cluster is OpenShift or another Kubernetes, from the API groups it serves
description:
  - Reads the API groups the server serves (one C(GET /apis)) and names the platform to render
    for, C(kubernetes) or C(openshift). With O(requested=auto), OpenShift is a server that serves
    both C(route.openshift.io) and C(security.openshift.io); a Route CRD alone (as some ingress
    controllers install) is not.
  - With O(requested=openshift), fails when the server serves no C(route.openshift.io), before
    anything is rendered.
  - Connects as M(kubernetes.core.k8s) does, from the connection options, else the
    C(K8S_AUTH_*) environment variables, else the default kubeconfig.
version_added: "1.0.0"
author:
  - slipway maintainers
extends_documentation_fragment:
  - read_only
  - kubernetes.core.k8s_auth_options
options:
  requested:
    description: The platform asked for; C(auto) finds it.
    type: str
    choices: [auto, kubernetes, openshift]
    default: auto
"""

EXAMPLES = r"""
- name: Find the cluster's platform
  k8s_platform:
    requested: "{{ slipway_app_platform }}"
  register: platform
"""

RETURN = r"""
platform:
  description: The platform to render for.
  type: str
  returned: success
  sample: openshift
openshift_groups:
  description: Which of OpenShift's API groups the server serves.
  type: list
  elements: str
  returned: success
unreachable:
  description: True when the module failed because the API server could not be reached (no HTTP answer).
  type: bool
  returned: failure
"""

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
except ImportError:  # k8s_module reports the missing collection
    get_api_client = None

from ansible.module_utils.app_model import OPENSHIFT_GROUPS, PlatformError, platform_of
from ansible.module_utils.kube_module import fail_unanswered, k8s_module


def main():
    module = k8s_module({"requested": {"type": "str", "choices": ["auto", "kubernetes", "openshift"],
                                       "default": "auto"}})
    requested = module.params["requested"]
    try:
        from kubernetes.client import ApisApi

        groups = {group.name for group in ApisApi(get_api_client(module=module).client.client).get_api_versions().groups}
    except Exception as err:  # connection, TLS and API errors reach us in many types
        fail_unanswered(module, err, "the discovery of its API groups")
    try:
        platform = platform_of(requested, groups)
    except PlatformError as err:
        module.fail_json(msg=f"{err}: is this cluster OpenShift?")
    module.exit_json(changed=False, platform=platform, openshift_groups=[g for g in OPENSHIFT_GROUPS if g in groups])


if __name__ == "__main__":
    main()
