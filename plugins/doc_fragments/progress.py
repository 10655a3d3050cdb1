# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress options of the modules that wait for rollouts (rollout_wait, app_apply)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  progress:
    description:
      - While waiting, print one line per rollout every O(progress_interval) seconds on the
        ansible-playbook console (its stderr), such as
        C(deployment/backend 3/5 updated, 2/5 ready, 0 unavailable), starting after the first
        interval. Printed by the action plugin, so only where the task runs on the controller
        (a local connection, as for every Kubernetes API task); the result is the same either way.
    type: bool
    default: true
  progress_interval:
    description: Seconds between progress lines; V(0) prints none.
    type: int
    default: 5
  progress_path:
    description:
      - A file the module appends its progress lines to. Set by the action plugin, which prints
        them; leave it unset.
    type: path
"""
