"""Run real `ansible-playbook` for tests, and read its results from the JSON callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


@dataclass
class PlaybookRun:
    returncode: int
    output: dict[str, Any]
    stderr: str

    @property
    def stats(self) -> dict[str, int]:
        return self.output["stats"]["localhost"]

    @property
    def changed(self) -> int:
        return self.stats["changed"]

    def results(self, task_name: str) -> list[dict[str, Any]]:
        """Every localhost result of the tasks named `task_name`, in a role or not (loop items flattened)."""
        found = []
        for play in self.output["plays"]:
            for task in play["tasks"]:
                name = task["task"]["name"]
                if (name == task_name or name.endswith(f" : {task_name}")) and "localhost" in task["hosts"]:
                    result = task["hosts"]["localhost"]
                    found.extend(result.get("results", [result]))
        return found

    def failures(self) -> str:
        """The messages of the failed tasks, and of their failed loop items."""
        messages = []
        for play in self.output["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get("localhost", {})
                if result.get("failed"):
                    messages.append(str(result.get("msg", "")))
                    messages.extend(str(item.get("msg", "")) for item in result.get("results", [])
                                    if item.get("failed"))
        return "\n".join(messages)

    def fact(self, name: str) -> Any:
        """The value a task printed with `ansible.builtin.debug: var=NAME`."""
        for play in self.output["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get("localhost", {})
                if name in result:
                    return result[name]
        raise KeyError(f"no task printed {name}")


def playbook_environment(overrides: dict[str, str | None]) -> dict[str, str]:
    """The test's environment with `overrides`; a None value removes the variable."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_playbook(playbook: str, extra_vars: dict[str, Any] | None = None, *options: str,
                 inventory: str = "inventory/sandbox",
                 environment: dict[str, str | None] | None = None) -> PlaybookRun:
    """Run a playbook (path relative to the repository) against the sandbox inventory.

    `environment` overrides the test's environment; a None value removes the variable.
    """
    env = playbook_environment({"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_FORCE_COLOR": "0",
                                **(environment or {})})
    with tempfile.NamedTemporaryFile("w", suffix=".json") as variables:
        json.dump(extra_vars or {}, variables)
        variables.flush()
        completed = subprocess.run(
            [ANSIBLE_PLAYBOOK, "-i", inventory, playbook, "-e", f"@{variables.name}", *options],
            cwd=REPO, capture_output=True, text=True, env=env,
        )
    # With -v..-vvvv the connection's log lines come first; the callback's document starts at
    # the first "{" alone on its line.
    document = completed.stdout if completed.stdout.startswith("{") else completed.stdout[
        completed.stdout.find("\n{\n") + 1:]
    try:
        output = json.loads(document)
    except json.JSONDecodeError as error:
        raise AssertionError(f"ansible-playbook printed no JSON ({error}):\n{completed.stdout}\n{completed.stderr}")
    return PlaybookRun(completed.returncode, output, completed.stderr)
