# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module built as kubernetes.core builds its own: its connection options with their K8S_AUTH_*
fallbacks, and a failure that says so when the collection is missing."""

from __future__ import annotations

import copy
import gc
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:
    KUBERNETES_CORE_ERROR = traceback.format_exc()
else:
    KUBERNETES_CORE_ERROR = None


class _K8sModule(AnsibleK8SModule if KUBERNETES_CORE_ERROR is None else object):
    """Returns as soon as its result is printed. Python's teardown of the kubernetes client's
    objects took 55-60 ms after that (measured here); frozen objects are not collected at exit
    and are left to the operating system, which frees the process in a few ms. rollout_wait
    returns that much sooner after a rollout completes."""

    def exit_json(self, *args, **kwargs):
        gc.freeze()
        super().exit_json(*args, **kwargs)

    def fail_json(self, *args, **kwargs):
        gc.freeze()
        super().fail_json(*args, **kwargs)


def k8s_module(argument_spec: dict, **options):
    """An AnsibleK8SModule with kubernetes.core's connection options added to `argument_spec`;
    check mode is supported by every module of ours."""
    if KUBERNETES_CORE_ERROR:
        AnsibleModule(argument_spec={}, bypass_checks=True).fail_json(
            msg=missing_required_lib("kubernetes.core collection"), exception=KUBERNETES_CORE_ERROR)
    return _K8sModule(argument_spec={**copy.deepcopy(AUTH_ARG_SPEC), **argument_spec},
                            supports_check_mode=True, check_pyyaml=False, **options)


def fail_unanswered(module, err: Exception, asked: str) -> None:
    """Fail on an error of the kubernetes client, with `unreachable` when no HTTP answer came
    (the preflight says "does not answer" then), else the server's status."""
    if isinstance(err, CoreException):
        module.fail_json(msg=str(err), unreachable=True)
    status = getattr(err, "status", None)
    if status:
        module.fail_json(msg=f"the API server refused {asked}: {status} {getattr(err, 'reason', '')}")
    module.fail_json(msg=f"{type(err).__name__}: {err}", unreachable=True)
