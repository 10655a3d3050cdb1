#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delete an app model's objects at once and wait, with one watch per kind, until they are gone."""

DOCUMENTATION = r"""
---
module: app_teardown
short_description: Delete the objects of slipway's app model and wait until they are gone
description:
  - Finds every object of the app (by the model's selector) of the kinds the model manages, and
    its PersistentVolumeClaims and Secrets.
  - Deletes them all at once with foreground propagation, so a workload is gone only once its
    pods are, then waits until every one is gone, following them with one watch per kind
    (not one wait per object). Secrets are not watched (a watch would stream their values);
    a deleted Secret is gone at once.
  - The PersistentVolumeClaims (the data) and the Secrets are kept unless O(purge) is set, so a
    later deploy finds the database and its password as they were. The namespace stays.
  - Only kinds and names are returned, never an object (a Secret's would carry its values).
options:
  model:
    description: The app model, C(slipway_app_model).
    type: dict
    required: true
  purge:
    description: Also delete the PersistentVolumeClaims and the Secrets.
    type: bool
    default: false
  wait_timeout:
    description: Seconds the deleted objects may take to be gone.
    type: int
    default: 600
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Lists what would be deleted and kept; deletes nothing.
  diff_mode:
    support: full
    description: The objects that go, as C(Kind/name) lines.
  idempotent:
    support: full
    description: A second run finds nothing to delete and reports no change.
author:
  - slipway
"""

EXAMPLES = r"""
- name: Tear the app down, keeping its data and Secrets
  app_teardown:
    model: "{{ slipway_app_model }}"
  register: torn_down

- name: Delete everything, the data too
  app_teardown:
    model: "{{ slipway_app_model }}"
    purge: true
"""

RETURN = r"""
deleted:
  description: C(Kind/name) of each object deleted (or, in check mode, that would be).
  type: list
  elements: str
  returned: always
  sample: [Deployment/backend, Service/backend, StatefulSet/mongodb]
kept:
  description: C(Kind/name) of the PersistentVolumeClaims and Secrets kept.
  type: list
  elements: str
  returned: always
  sample: [PersistentVolumeClaim/data-mongodb-0, Secret/mongodb]
"""

import threading
import time

from ansible.module_utils.app_deploy import ref, teardown_plan
from ansible.module_utils.app_model import KEPT_KINDS, SECRET, PlatformError, platform_of, with_platform
from ansible.module_utils.kube_module import k8s_module
from ansible.module_utils.rollout_kube import ApiError, Informer, ResourceType, connect


class Teardown:
    def __init__(self, module, api):
        self.module = module
        self.api = api
        self.model = module.params["model"]
        if self.model["platform"] == "auto":
            self.model = with_platform(self.model, platform_of("auto", api.api_groups()))
        self.namespace = self.model["namespace"]
        self.selector = ",".join(f"{k}={v}" for k, v in self.model["selector"].items())
        kinds = self.model["teardown_kinds"] + [kind.as_dict() for kind in KEPT_KINDS]
        self.types = {kind["kind"]: ResourceType.of(kind["api_version"], kind["plural"]) for kind in kinds}

    def found(self) -> list[dict]:
        objects = []
        for kind, rtype in self.types.items():
            for obj in self.api.list(rtype, self.namespace, self.selector)[0]:
                # Only what a plan and a wait read: a Secret's values are dropped at once.
                objects.append({"kind": kind, "metadata": {key: obj["metadata"].get(key)
                                                           for key in ("name", "uid", "deletionTimestamp")}})
        return objects

    def wait_gone(self, objects: list[dict]) -> list[dict]:
        """Wait until none of `objects` is left; the ones still there at the timeout."""
        changed = threading.Event()
        informers = {kind: Informer(self.api, self.types[kind], self.namespace, changed.set)
                     for kind in {obj["kind"] for obj in objects}}
        for informer in informers.values():
            informer.start()
        deadline = time.monotonic() + self.module.params["wait_timeout"]
        try:
            while True:
                for informer in informers.values():
                    if informer.fatal:
                        raise informer.fatal
                left = objects
                if all(informer.synced.is_set() for informer in informers.values()):
                    alive = {item["metadata"]["uid"] for informer in informers.values() for item in informer.items()}
                    left = [obj for obj in objects if obj["metadata"]["uid"] in alive]
                    if not left:
                        return []
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return left
                changed.wait(remaining)
                changed.clear()
        finally:
            for informer in informers.values():
                informer.stop()

    def run(self) -> dict:
        plan = teardown_plan(self.found(), self.module.params["purge"])
        deleted = [ref(obj) for obj in plan.delete]
        result = {"changed": bool(deleted), "deleted": deleted, "kept": [ref(obj) for obj in plan.kept]}
        if self.module._diff:
            result["diff"] = {"before": "".join(f"{line}\n" for line in deleted), "after": ""}
        if self.module.check_mode:
            return result
        for obj in plan.delete:
            self.api.delete(self.types[obj["kind"]], self.namespace, obj["metadata"]["name"], propagation="Foreground")
        # A Secret has no finalizer of its own and is gone once deleted; watching one would
        # stream its values (its permissions are get and list only).
        left = self.wait_gone([obj for obj in plan.delete + plan.terminating if obj["kind"] != SECRET.kind])
        if left:
            self.module.fail_json(msg=f"Still there after wait_timeout ({self.module.params['wait_timeout']} s): "
                                      f"{', '.join(ref(obj) for obj in left)}; a finalizer or a pod that does not "
                                      "stop may hold them", **result)
        return result


def main():
    module = k8s_module({
        "model": {"type": "dict", "required": True},
        "purge": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 600},
    })
    try:
        module.exit_json(**Teardown(module, connect(module)).run())
    except PlatformError as err:
        module.fail_json(msg=f"{err}; nothing was deleted")
    except ApiError as err:
        module.fail_json(msg=str(err))


if __name__ == "__main__":
    main()
