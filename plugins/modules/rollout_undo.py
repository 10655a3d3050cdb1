#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_undo
short_description: Roll a Deployment, StatefulSet or DaemonSet back to an earlier revision
description:
  - Restores an earlier revision as C(kubectl rollout undo) does. A Deployment gets the pod
    template of that revision's ReplicaSet; a StatefulSet or DaemonSet gets its
    ControllerRevision's stored template.
  - Without O(to_revision) the revision restored is the newest one older than the current one.
  - Does not wait; follow it with M(rollout_wait) (the rollback is a rollout like any other).
  - Reports the revisions and the containers' images before and after, so a runbook can say
    from which image to which it went.
version_added: "1.0.0"
author:
  - slipway maintainers
options:
  kind:
    description: The workload's kind.
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: Deployment
  name:
    description: The workload's name.
    type: str
    required: true
  namespace:
    description: The workload's namespace.
    type: str
    default: default
  to_revision:
    description:
      - The revision to restore (C(deployment.kubernetes.io/revision) of a ReplicaSet, the
        C(revision) of a ControllerRevision). V(0) restores the previous one.
      - Asking for the current revision changes nothing.
    type: int
    default: 0
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports the revision and images it would restore without patching.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: With O(to_revision) a second run finds that revision current and changes nothing;
      without it, each run goes back one more revision, as C(kubectl rollout undo) does.
  platform:
    platforms: posix
requirements:
  - python >= 3.11
  - kubernetes >= 24.2.0
  - the kubernetes.core collection
notes:
  - Needs C(get) and C(patch) on the workload and C(list) on replicasets (Deployments) or
    controllerrevisions (StatefulSets, DaemonSets).
seealso:
  - module: rollout_wait
"""

EXAMPLES = r"""
- name: Roll the backend back to the previous revision
  rollout_undo:
    namespace: shop
    name: backend
  register: undo

- name: Wait for the rollback
  rollout_wait:
    namespace: shop
    targets: [deployment/backend]

- name: Go back to revision 3 of the database
  rollout_undo:
    namespace: shop
    kind: StatefulSet
    name: mongodb
    to_revision: 3
"""

RETURN = r"""
from_revision:
  description: The revision that was current.
  type: int
  returned: success
  sample: 4
to_revision:
  description: The revision restored (or that would be, in check mode).
  type: int
  returned: success
  sample: 3
from_images:
  description: The containers' images of the current revision, in container order.
  type: list
  elements: str
  returned: success
  sample: [slipway/shop-backend:5d2c0e1a9f3b7c44]
to_images:
  description: The containers' images of the restored revision, in container order.
  type: list
  elements: str
  returned: success
  sample: [slipway/shop-backend:0b7e4f1c2a9d8e63]
msg:
  description: What was done, e.g. C(deployment/backend rolled back from revision 4 to 3).
  type: str
  returned: always
"""

from ansible.module_utils.kube_module import k8s_module
from ansible.module_utils.rollout_kube import (
    CONTROLLERREVISIONS,
    REPLICASETS,
    ApiError,
    ResourceType,
    connect,
)
from ansible.module_utils.rollout_rollback import AlreadyAtRevision, RollbackError, plan_rollback
from ansible.module_utils.rollout_targets import KINDS


def main():
    module = k8s_module({
        "kind": {"type": "str", "choices": ["Deployment", "StatefulSet", "DaemonSet"], "default": "Deployment"},
        "name": {"type": "str", "required": True},
        "namespace": {"type": "str", "default": "default"},
        "to_revision": {"type": "int", "default": 0},
    })
    kind, name, namespace = module.params["kind"], module.params["name"], module.params["namespace"]
    to_revision = module.params["to_revision"]
    if to_revision < 0:
        module.fail_json(msg=f"to_revision must not be negative, got {to_revision}")
    ref = f"{kind.lower()}/{name}"
    workload_type = ResourceType(*KINDS[kind])
    try:
        api = connect(module)
        workload = api.get(workload_type, namespace, name)
        history_type = REPLICASETS if kind == "Deployment" else CONTROLLERREVISIONS
        history, _ = api.list(history_type, namespace)
        replicasets, revisions = (history, []) if kind == "Deployment" else ([], history)
        plan = plan_rollback(kind, workload, replicasets, revisions, failed_pods=[],
                             to_revision=to_revision or None)
        if not module.check_mode:
            api.patch(workload_type, namespace, name, plan.patch, plan.content_type)
    except AlreadyAtRevision as err:
        module.exit_json(changed=False, msg=f"{ref}: {err}, nothing to do",
                         from_revision=to_revision, to_revision=to_revision)
    except (RollbackError, ApiError) as err:
        module.fail_json(msg=f"{ref}: cannot roll back: {err}")
    module.exit_json(
        changed=True,
        msg=(f"{ref} {'would be rolled' if module.check_mode else 'rolled'} back from revision "
             f"{plan.from_revision} ({', '.join(plan.from_images)}) to {plan.to_revision} "
             f"({', '.join(plan.to_images)})"),
        from_revision=plan.from_revision,
        to_revision=plan.to_revision,
        from_images=list(plan.from_images),
        to_images=list(plan.to_images),
    )


if __name__ == "__main__":
    main()
