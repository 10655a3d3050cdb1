# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app model (plugins/module_utils/app_model.py) for roles and playbooks: built once by
the slipway_app role from its variables, read by every other phase."""

from __future__ import annotations

import os

import ansible.module_utils
from ansible.errors import AnsibleFilterError

# The model is shared with our modules, which import it as Ansible ships module_utils to them
# (`ansible.module_utils.NAME`); a filter runs in the controller, where that path is not set.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import app_manifests  # noqa: E402
from ansible.module_utils.app_model import (  # noqa: E402
    AppModelError, build_images, expected_objects, permissions, permissions_on, prebuilt_images, with_platform)
from ansible.module_utils.app_model import app_model as _app_model  # noqa: E402


def app_model(variables: dict) -> dict:
    """The normalised model of the `slipway_app_*` variables (given without the prefix); fails
    naming every variable that is wrong. Build contexts are checked on the controller."""
    try:
        return _app_model(variables, path_exists=os.path.isdir)
    except AppModelError as err:
        raise AnsibleFilterError(str(err)) from err


def app_dump_job(model: dict, action: str, name: str, dump_name: str, claim: str, retention, deadline, ttl) -> dict:
    """The runbooks' backup or restore Job, from the same pod-spec builder as the app's pods."""
    if not model["has_mongodb"]:
        raise AnsibleFilterError("The app has no MongoDB (slipway_app_mongodb.enabled is false)")
    return app_manifests.dump_job(model, action, name, dump_name, claim, int(retention), int(deadline), int(ttl))


class FilterModule:
    def filters(self):
        return {
            "app_model": app_model,
            "app_build_images": build_images,
            "app_prebuilt_images": prebuilt_images,
            "app_expected_objects": expected_objects,
            "app_permissions": permissions,
            "app_permissions_on": permissions_on,
            "app_with_platform": with_platform,
            "app_dump_job": app_dump_job,
        }
