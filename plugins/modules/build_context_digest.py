#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: build_context_digest
short_description: Content digest of a Docker build, to tag images by what they are built from
description:
  - Computes a digest over the files that C(docker build) would send (those that the context's
    C(.dockerignore) keeps, matched as the Docker SDK matches them), their executable bits, the
    Dockerfile, the build target and the build arguments.
  - The same source gives the same digest, so an image tagged with it is not rebuilt and a
    Deployment that uses it is not rolled; any change that can change the image gives a new
    digest. Unlike C(:latest), such a tag rolls out even when pods never pull (C(imagePullPolicy=Never)).
version_added: "1.0.0"
author:
  - slipway maintainers
options:
  context:
    description: The build context folder.
    type: path
    required: true
  dockerfile:
    description: The Dockerfile, relative to O(context).
    type: str
    default: Dockerfile
  target:
    description: The build stage to build, if any.
    type: str
  build_args:
    description: Build arguments passed to the build.
    type: dict
    default: {}
  tag_length:
    description: How many hex digits of the digest RV(tag) keeps.
    type: int
    default: 16
requirements:
  - docker (the Docker SDK for Python), for its C(.dockerignore) matcher
attributes:
  check_mode:
    support: full
    description: Reads files only; the same result in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Never changes anything.
"""

EXAMPLES = r"""
- name: Compute the backend image's tag from its source
  build_context_digest:
    context: "{{ playbook_dir }}/app"
    target: backend
    build_args:
      BASE_IMAGE: python:3.11-slim-bookworm
  register: backend_source

- name: Build it only when that tag does not exist yet
  community.docker.docker_image:
    name: slipway/backend
    tag: "{{ backend_source.tag }}"
    source: build
    build:
      path: "{{ playbook_dir }}/app"
      target: backend
      args:
        BASE_IMAGE: python:3.11-slim-bookworm
"""

RETURN = r"""
digest:
  description: The full digest, with its algorithm.
  returned: success
  type: str
  sample: sha256:5f0c6b5a1d0e4c7b9a8f3e2d1c0b9a8f7e6d5c4b3a2918171615141312111009
tag:
  description: The first O(tag_length) hex digits of the digest, for an image tag.
  returned: success
  type: str
  sample: 5f0c6b5a1d0e4c7b
file_count:
  description: How many files of the context went into the digest.
  returned: success
  type: int
  sample: 42
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import docker  # noqa: F401 -- only its .dockerignore matcher is used
except ImportError:
    HAS_DOCKER = False
else:
    HAS_DOCKER = True

from ansible.module_utils.build_context import build_digest


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "context": {"type": "path", "required": True},
            "dockerfile": {"type": "str", "default": "Dockerfile"},
            "target": {"type": "str"},
            "build_args": {"type": "dict", "default": {}},
            "tag_length": {"type": "int", "default": 16},
        },
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"))
    params = module.params
    dockerfile_path = os.path.join(params["context"], params["dockerfile"])
    if not os.path.isdir(params["context"]):
        module.fail_json(msg=f"build context {params['context']} is not a folder")
    if not os.path.isfile(dockerfile_path):
        module.fail_json(msg=f"Dockerfile {dockerfile_path} does not exist")
    if not 8 <= params["tag_length"] <= 64:
        module.fail_json(msg="tag_length must be between 8 and 64")
    result = build_digest(params["context"], params["dockerfile"], params["target"], params["build_args"])
    module.exit_json(changed=False, tag=result["digest"].split(":", 1)[1][: params["tag_length"]], **result)


if __name__ == "__main__":
    main()
