"""Run the waiters under comparison as a user would, and time them from the outside.

ansible-playbook runs with the ansible.posix.json callback, whose per-task start and end
timestamps (taken by the controller, same clock as the bench) time a module without ansible's
own start-up; kubectl is timed by its process. Every run is capped by a timer: a waiter that
would wait for minutes is stopped and reported as not having returned.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@dataclass
class Run:
    """One waiter's run: when it started and returned (epoch seconds), and what it said."""

    started: float
    returned: float | None          # None: stopped by the cap
    process_exit: float
    succeeded: bool
    message: str
    task_started: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _timestamp(value: str) -> float:
    """The JSON callback's naive-UTC ISO time (with a trailing Z) as epoch seconds."""
    parsed = datetime.datetime.fromisoformat(value.rstrip("Z"))
    return parsed.replace(tzinfo=datetime.timezone.utc).timestamp()


def _run_capped(argv: list[str], cap: float, env: dict[str, str] | None = None,
                cwd: Path = REPO) -> tuple[int | None, str, str, float, float]:
    """Run `argv` in its own process group; kill the group at `cap` seconds. Returns the exit
    code (None when capped), stdout, stderr, and the start and end times."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.time()
        process = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)
        try:
            code: int | None = process.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
        ended = time.time()
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read(), started, ended


def run_playbook(playbook: str, variables: dict[str, Any], cap: float, task: str,
                 kubeconfig: Path | None = None, options: tuple[str, ...] = ()) -> Run:
    """Run a bench (or the project's) playbook and time the task named `task` from the JSON
    callback: `task_started`/`returned` are the task's own start and end."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as extra:
        json.dump(variables, extra)
        extra.flush()
        env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_FORCE_COLOR": "0"}
        if kubeconfig:
            env["KUBECONFIG"] = str(kubeconfig)
        code, stdout, stderr, started, ended = _run_capped(
            [str(ANSIBLE_PLAYBOOK), "-i", "inventory/sandbox", playbook, "-e", f"@{extra.name}", *options],
            cap, env)
    if code is None:
        return Run(started, None, ended, False, f"stopped by the bench after {cap:.0f} s")
    try:
        output = json.loads(stdout)
    except json.JSONDecodeError:
        return Run(started, ended, ended, False, f"no JSON from ansible-playbook: {stderr.strip()[-500:]}")
    result = _task_result(output, task)
    if result is None:
        return Run(started, ended, ended, False, f"task {task!r} did not run: {_failure(output) or stderr[-500:]}",
                   extra={"stats": output.get("stats", {})})
    duration, host = result
    failed = bool(host.get("failed"))
    plays = {play["play"]["name"]: _timestamp(play["play"]["duration"]["end"])
             - _timestamp(play["play"]["duration"]["start"]) for play in output["plays"]
             if "end" in play["play"]["duration"]}
    return Run(started, _timestamp(duration["end"]), ended, not failed and code == 0,
               str(host.get("msg", "")), task_started=_timestamp(duration["start"]),
               extra={"result": host, "stats": output.get("stats", {}).get("localhost", {}), "plays": plays,
                      "tasks": _task_times(output)})


def _failure(output: dict[str, Any]) -> str:
    """The first failed task and its message, to say why a playbook stopped."""
    for play in output.get("plays", []):
        for entry in play["tasks"]:
            result = entry["hosts"].get("localhost", {})
            if result.get("failed"):
                return f"{entry['task']['name']}: {result.get('msg', '')}"
    return ""


def _task_times(output: dict[str, Any]) -> list[tuple[str, float, bool]]:
    """Every task's name, duration and whether it changed anything, to say where time goes."""
    times = []
    for play in output.get("plays", []):
        for entry in play["tasks"]:
            duration = entry["task"]["duration"]
            if "end" in duration and "localhost" in entry["hosts"]:
                times.append((entry["task"]["name"], _timestamp(duration["end"]) - _timestamp(duration["start"]),
                              bool(entry["hosts"]["localhost"].get("changed"))))
    return times


def _task_result(output: dict[str, Any], task: str) -> tuple[dict[str, str], dict[str, Any]] | None:
    """The duration and localhost result of the last task whose name ends with `task`."""
    found = None
    for play in output.get("plays", []):
        for entry in play["tasks"]:
            if entry["task"]["name"].endswith(task) and "localhost" in entry["hosts"]:
                found = (entry["task"]["duration"], entry["hosts"]["localhost"])
    return found


def run_command(argv: list[str], cap: float, kubeconfig: Path | None = None) -> Run:
    """Run a command (kubectl, a shell script) and time it by its process."""
    env = {**os.environ}
    if kubeconfig:
        env["KUBECONFIG"] = str(kubeconfig)
    code, stdout, stderr, started, ended = _run_capped(argv, cap, env)
    if code is None:
        return Run(started, None, ended, False, f"stopped by the bench after {cap:.0f} s")
    message = (stderr.strip() or stdout.strip()).splitlines()
    return Run(started, ended, ended, code == 0, message[-1] if message else "")
