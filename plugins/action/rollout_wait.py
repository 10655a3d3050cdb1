# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin of the modules that wait for rollouts (rollout_wait, app_apply): runs the
module and prints its progress lines as it waits.

A module cannot print while it runs: its output is read when it exits. So, where the module runs
on the controller (a local connection), this plugin gives it a file to append its progress lines
to (the module's `progress_path`), runs it in a thread, and prints what the file gains on the
ansible-playbook console until the module returns. The module's result is returned unchanged.
Elsewhere (a remote host, check mode, `progress: false`) the module runs as it is.
"""

from __future__ import annotations

import os
import tempfile
import threading

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()
# How often the file is read while the module runs; lines appear at most this late.
POLL_SECONDS = 0.5


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if (self._task.check_mode or self._connection.transport != "local"
                or not boolean(args.get("progress", True), strict=False)):
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result
        handle, path = tempfile.mkstemp(prefix="rollout_wait-", suffix=".progress")
        os.close(handle)
        args["progress_path"] = path
        outcome: dict = {}

        def execute() -> None:
            try:
                outcome["result"] = self._execute_module(module_args=args, task_vars=task_vars)
            except BaseException as err:  # re-raised in the task's own thread, below
                outcome["error"] = err

        worker = threading.Thread(target=execute, name="rollout_wait", daemon=True)
        worker.start()
        try:
            with open(path, encoding="utf-8") as progress:
                pending = ""
                while worker.is_alive():
                    worker.join(POLL_SECONDS)
                    pending += progress.read()
                    *lines, pending = pending.split("\n")
                    for line in lines:
                        # stderr: stdout may be a machine-read callback's (json, yaml) output.
                        display.display(f"  waiting: {line}", stderr=True)
        finally:
            worker.join()
            os.unlink(path)
        if "error" in outcome:
            raise outcome["error"]
        result.update(outcome["result"])
        return result
