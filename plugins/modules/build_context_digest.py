#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: build_context_digest
short_description: Content digests of Docker builds, to tag images by what they are built from
description:
  - For each image, computes a digest over the files that C(docker build) would send (those that
    the context's C(.dockerignore) keeps, matched as the Docker SDK matches them), their executable
    bits, the Dockerfile, the build target and the build arguments, and names the image
    C([REGISTRY/]REPOSITORY:TAG) with the digest's first hex digits as its tag.
  - The same source gives the same digest, so an image tagged with it is not rebuilt and a
    Deployment that uses it is not rolled; any change that can change the image gives a new
    digest. Unlike C(:latest), such a tag rolls out even when pods never pull (C(imagePullPolicy=Never)).
  - All images in one call, so a run pays one module start however many images the app has.
version_added: "1.0.0"
author:
  - slipway maintainers
options:
  images:
    description:
      - The images, as the image_build role's C(image_build_images) lists them. Keys read
        C(name), C(context), C(repository) (default C(slipway/NAME)), C(dockerfile) (relative to
        the context, default C(Dockerfile)), C(target), C(build_args); others are passed through.
    type: list
    elements: dict
    required: true
  registry:
    description: A registry (C(host[:port]/path)) the references start with; empty for none.
    type: str
    default: ""
  tag_length:
    description: How many hex digits of the digest a tag keeps.
    type: int
    default: 16
requirements:
  - docker (the Docker SDK for Python), for its C(.dockerignore) matcher
extends_documentation_fragment:
  - read_only
"""

EXAMPLES = r"""
- name: Compute each image's tag from its source
  build_context_digest:
    images:
      - name: backend
        context: "{{ playbook_dir }}/app"
        target: backend
        build_args:
          BASE_IMAGE: python:3.11-slim-bookworm
  register: sources

- name: Build the backend only when that tag does not exist yet
  community.docker.docker_image:
    name: "{{ sources.refs.backend }}"
    source: build
    build:
      path: "{{ playbook_dir }}/app"
      target: backend
      args:
        BASE_IMAGE: python:3.11-slim-bookworm
"""

RETURN = r"""
refs:
  description: The full image reference per image name.
  returned: success
  type: dict
  sample: {backend: "slipway/backend:5f0c6b5a1d0e4c7b"}
images:
  description:
    - The images as given, each with its defaults filled in (C(repository), C(dockerfile),
      C(build_args)) and C(reference), C(tag), C(digest) (with its algorithm) and C(file_count)
      (how many files of the context went into the digest).
  returned: success
  type: list
  elements: dict
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


def problems(images: list[dict]) -> list[str]:
    """What is wrong with the images given, every problem at once."""
    found, names = [], set()
    for index, image in enumerate(images):
        name, context = image.get("name"), image.get("context")
        label = f"image {index} ({name})" if name else f"image {index}"
        if not name or not context:
            found.append(f"{label} needs a name and a context")
            continue
        if name in names:
            found.append(f"{label}: the name is used twice")
        names.add(name)
        dockerfile = os.path.join(context, image.get("dockerfile") or "Dockerfile")
        if not os.path.isdir(context):
            found.append(f"{label}: build context {context} is not a folder")
        elif not os.path.isfile(dockerfile):
            found.append(f"{label}: Dockerfile {dockerfile} does not exist")
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "images": {"type": "list", "elements": "dict", "required": True},
            "registry": {"type": "str", "default": ""},
            "tag_length": {"type": "int", "default": 16},
        },
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"))
    params = module.params
    if not 8 <= params["tag_length"] <= 64:
        module.fail_json(msg="tag_length must be between 8 and 64")
    found = problems(params["images"])
    if found:
        module.fail_json(msg="; ".join(found))
    prefix = f"{params['registry'].rstrip('/')}/" if params["registry"] else ""
    images, refs = [], {}
    for given in params["images"]:
        image = {**given, "repository": given.get("repository") or f"slipway/{given['name']}",
                 "dockerfile": given.get("dockerfile") or "Dockerfile", "build_args": given.get("build_args") or {}}
        result = build_digest(image["context"], image["dockerfile"], image.get("target"), image["build_args"])
        tag = result["digest"].split(":", 1)[1][: params["tag_length"]]
        image.update(result, tag=tag, reference=f"{prefix}{image['repository']}:{tag}")
        images.append(image)
        refs[image["name"]] = image["reference"]
    module.exit_json(changed=False, refs=refs, images=images)


if __name__ == "__main__":
    main()
