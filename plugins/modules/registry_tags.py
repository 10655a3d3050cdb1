#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_tags
short_description: Which image tags a registry already holds, with its credentials checked first
description:
  - Logs in to a registry that speaks the Docker Registry HTTP API V2 (HTTP Basic, or a Bearer
    token from the registry's token service, as Docker Hub, GHCR, Harbor and ECR's proxies ask),
    then asks with a C(HEAD) of each reference's manifest whether the tag exists. Nothing is
    pulled or pushed.
  - Images tagged by content (M(build_context_digest)) need pushing only when their tag is
    missing, so an unchanged source pushes nothing.
  - Wrong credentials, an unknown certificate authority or an unreachable registry fail the task
    before anything is built or pushed, with the reason and without the password.
version_added: "1.0.0"
author:
  - slipway maintainers
options:
  references:
    description: Image references, C(host[:port]/repository:tag), all of the same registry.
    type: list
    elements: str
    required: true
  username:
    description: The registry account; empty for a registry that asks for none.
    type: str
    default: ""
  password:
    description: Its password or token.
    type: str
    default: ""
  ca_cert:
    description: A CA bundle to verify the registry's certificate with, beside the system's.
    type: path
  validate_certs:
    description: Verify the registry's certificate.
    type: bool
    default: true
  timeout:
    description: Seconds each request may take.
    type: int
    default: 30
extends_documentation_fragment:
  - read_only
"""

EXAMPLES = r"""
- name: Check the registry's credentials and which tags it has
  registry_tags:
    references: "{{ image_build_refs.values() | list }}"
    username: "{{ image_build_registry_username }}"
    password: "{{ image_build_registry_password }}"
    ca_cert: /etc/ssl/company-ca.pem
  register: registry
"""

RETURN = r"""
present:
  description: The references whose tag the registry holds.
  type: list
  elements: str
  returned: success
missing:
  description: The references whose tag it does not hold (to push).
  type: list
  elements: str
  returned: success
  sample: [registry.example.com/shop/backend:1a2b3c4d5e6f7a8b]
auth:
  description: How the registry authenticates, C(none), C(basic) or C(bearer).
  type: str
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.registry_client import RegistryClient, RegistryError, split_reference
from ansible.module_utils.urls import open_url


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            references=dict(type="list", elements="str", required=True),
            username=dict(type="str", default=""),
            password=dict(type="str", default="", no_log=True),
            ca_cert=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        parsed = [(reference, *split_reference(reference)) for reference in params["references"]]
        registries = sorted({registry for _, registry, _, _ in parsed})
        if len(registries) > 1:
            raise RegistryError(f"The references name more than one registry: {', '.join(registries)}")
        result = {"present": [], "missing": [], "auth": "none", "changed": False}
        if parsed:
            client = RegistryClient(registries[0], params["username"], params["password"], open_url,
                                    ca_path=params["ca_cert"], validate_certs=params["validate_certs"],
                                    timeout=params["timeout"], follow_redirects="all")
            result["auth"] = client.login()
            for reference, _, repository, tag in parsed:
                result["present" if client.has_tag(repository, tag) else "missing"].append(reference)
    except RegistryError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
