"""Run a playbook the way AWX runs a job, and read the job as AWX does.

AWX hands each job to `ansible-runner` with a private data dir made for that job: the project
as checked out (`project/`), the inventory AWX imported from its source and writes back as a
script (`inventory/hosts`), what the credentials inject (`env/envvars`), the extra variables
and survey answers (`env/extravars`), the job template's options (`env/cmdline`). The job runs
with no terminal user, a HOME of its own and none of this machine's environment; AWX judges it
by runner's status and rc and shows its job events (`artifacts/<ident>/`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a job's process sees of the machine: the EE's tools (here the virtualenv's) and a locale.
BASE_ENVIRONMENT = {"PATH": f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "LANG": "C.UTF-8"}
# Events that carry one host's task result (a loop's carries its items' results too).
RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


def project_files() -> list[str]:
    """What a project sync checks out: the tracked files and the new ones git does not ignore
    (so a test sees the working tree), never .venv, caches or fetched wheels."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode()
    return [path for path in listed.split("\0") if path and (REPO / path).is_file()]


def _copy_project(destination: Path) -> None:
    for path in project_files():
        target = destination / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, target)


@functools.cache
def _imported_inventory(source: str) -> str:
    """The inventory as AWX's import stores it, once per source as an inventory sync does:
    hosts, groups and variables, the variables' Jinja kept unevaluated (`--export`), since
    they are evaluated in each job, not at import."""
    with tempfile.TemporaryDirectory() as home:
        listed = subprocess.run([str(BIN / "ansible-inventory"), "-i", source, "--list", "--export"], cwd=REPO,
                                capture_output=True, text=True, env={**BASE_ENVIRONMENT, "HOME": home})
    if listed.returncode != 0:
        raise AssertionError(f"ansible-inventory could not read {source}:\n{listed.stderr}")
    return json.dumps(json.loads(listed.stdout), indent=2)


def prepare_job(base: Path, playbook: str, *, extravars: dict[str, Any] | None = None,
                envvars: dict[str, str] | None = None, cmdline: str = "",
                inventory: str = "inventory/sandbox") -> Path:
    """A private data dir for one job under `base`; `inventory` is the inventory source, a path
    in the project (an inventory "Sourced from a Project")."""
    private = Path(tempfile.mkdtemp(prefix="job-", dir=base))
    project = private / "project"
    _copy_project(project)
    if not (project / playbook).is_file():
        raise AssertionError(f"the project has no playbook {playbook}")
    home = private / "home"
    home.mkdir()
    # AWX writes the inventory as a script printing what it imported, readable by the job only.
    script = private / "inventory" / "hosts"
    script.parent.mkdir()
    # As AWX writes it: the job's python3, wherever the job runs (an EE, or this venv's on PATH).
    script.write_text(f"#!/usr/bin/env python3\nprint({_imported_inventory(inventory)!r})\n")
    script.chmod(0o700)
    env = private / "env"
    env.mkdir()
    (env / "extravars").write_text(json.dumps(extravars or {}))
    (env / "envvars").write_text(json.dumps({"HOME": str(home), **(envvars or {})}))
    (env / "cmdline").write_text(cmdline)
    return private


def kubernetes_credential(configuration, token: str) -> dict[str, str]:
    """What AWX's "OpenShift or Kubernetes API Bearer Token" credential injects: the API server,
    the token, the CA (a file AWX writes) and whether to verify it."""
    return {"K8S_AUTH_HOST": configuration.host, "K8S_AUTH_API_KEY": token,
            "K8S_AUTH_SSL_CA_CERT": configuration.ssl_ca_cert, "K8S_AUTH_VERIFY_SSL": "True"}


def sandbox_credential() -> dict[str, str]:
    """What a custom credential type would inject for the sandbox: where it lives on the
    execution node (its kubeconfig, Docker engine and node are found from there)."""
    return {"SLIPWAY_CACHE": os.environ.get("SLIPWAY_CACHE", str(Path.home() / ".cache" / "slipway"))}


@dataclass
class AwxJob:
    """A finished job: runner's verdict and its job events, in the order they happened."""

    private_data_dir: Path
    ident: str
    status: str
    rc: int
    events: list[dict[str, Any]] = field(repr=False)

    @property
    def artifacts(self) -> Path:
        return self.private_data_dir / "artifacts" / self.ident

    @property
    def stdout(self) -> str:
        return (self.artifacts / "stdout").read_text()

    @property
    def stats(self) -> dict[str, Any]:
        found = [e["event_data"] for e in self.events if e["event"] == "playbook_on_stats"]
        if not found:
            raise AssertionError(f"job {self.ident} ({self.status}) has no stats event:\n{self.stdout[-3000:]}")
        return found[-1]

    @property
    def changed(self) -> int:
        return self.stats.get("changed", {}).get("localhost", 0)

    def _task_results(self) -> list[tuple[str, dict[str, Any]]]:
        return [(e["event"], e["event_data"].get("res") or {}) for e in self.events
                if e["event"] in RESULT_EVENTS and e["event_data"].get("host") == "localhost"]

    def results(self, task_name: str) -> list[dict[str, Any]]:
        """The localhost results of the tasks named `task_name`, loop items flattened."""
        found = []
        for event in self.events:
            data = event["event_data"]
            if event["event"] in RESULT_EVENTS and data.get("host") == "localhost" and data.get("task") == task_name:
                result = data.get("res") or {}
                found.extend(result.get("results", [result]))
        return found

    def failures(self) -> str:
        """The messages of the failed tasks, and of their failed loop items."""
        messages = []
        for event, result in self._task_results():
            # The event says it failed; its result does not repeat it.
            if event == "runner_on_failed":
                messages.append(str(result.get("msg", "")))
                messages.extend(str(item.get("msg", "")) for item in result.get("results", []) if item.get("failed"))
        return "\n".join(messages)


def read_job(private_data_dir: Path, ident: str) -> AwxJob:
    artifacts = private_data_dir / "artifacts" / ident
    status = (artifacts / "status").read_text().strip()
    rc = int((artifacts / "rc").read_text().strip())
    events = [json.loads(path.read_text()) for path in (artifacts / "job_events").glob("*.json")]
    events.sort(key=lambda event: event["counter"])
    return AwxJob(private_data_dir, ident, status, rc, events)


def run_job(base: Path, playbook: str, **job: Any) -> AwxJob:
    """Prepare a job (see prepare_job) and run it with `ansible-runner run`, as AWX would."""
    private = prepare_job(base, playbook, **job)
    ident = uuid.uuid4().hex[:12]
    # runner's own options as AWX sets them: no env files written from the job's settings.
    subprocess.run([str(BIN / "ansible-runner"), "run", str(private), "--playbook", playbook,
                    "--ident", ident, "--omit-env-files", "--quiet"],
                   env={**BASE_ENVIRONMENT, "HOME": str(private / "home")},
                   stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    return read_job(private, ident)
