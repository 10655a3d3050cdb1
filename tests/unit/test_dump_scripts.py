"""The backup and restore scripts the dump Jobs run, run here with bash against a stand-in for
mongodump/mongorestore (the sandbox's simulated nodes run no container): naming, retention,
failure safety and that the password never reaches a command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[2] / "roles" / "app_ops" / "files"
PASSWORD = "s3cretPassw0rd"

# Records its arguments, then writes an "archive" or fails as told.
STAND_IN = """#!/bin/bash
printf '%s\\n' "$@" > "$CALLS/$(basename "$0").args"
if [ -n "${FAIL:-}" ]; then echo "Failed: connection refused" >&2; exit 1; fi
for arg; do case "$arg" in --archive=*) [ "$(basename "$0")" = mongodump ] && echo dump > "${arg#--archive=}";; esac; done
for arg; do case "$arg" in --config=*) cp "${arg#--config=}" "$CALLS/$(basename "$0").config";; esac; done
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> dict:
    tools, calls, backups = tmp_path / "bin", tmp_path / "calls", tmp_path / "backup"
    for folder in (tools, calls, backups):
        folder.mkdir()
    for tool in ("mongodump", "mongorestore"):
        (tools / tool).write_text(STAND_IN)
        (tools / tool).chmod(0o755)
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD)
    env = {
        "PATH": f"{tools}:{os.environ['PATH']}", "CALLS": str(calls), "BACKUP_DIR": str(backups),
        "MONGODB_HOST": "mongodb-0.mongodb.shop.svc.cluster.local", "MONGODB_PASSWORD_FILE": str(secret),
        "BACKUP_RETENTION": "3",
    }
    return {"env": env, "backups": backups, "calls": calls}


def run(script: str, sandbox: dict, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(FILES / script)], env={**sandbox["env"], **env},
                          capture_output=True, text=True)


def dumps(sandbox: dict) -> list[str]:
    return sorted(p.name for p in sandbox["backups"].iterdir())


def test_a_dump_is_written_under_its_name(sandbox: dict) -> None:
    done = run("mongodb-backup.sh", sandbox, DUMP_NAME="mongodb-20261127-030000.archive.gz")
    assert done.returncode == 0, done.stderr
    assert dumps(sandbox) == ["mongodb-20261127-030000.archive.gz"]
    assert "backup: wrote mongodb-20261127-030000.archive.gz" in done.stdout
    arguments = (sandbox["calls"] / "mongodump.args").read_text().splitlines()
    assert "--host=mongodb-0.mongodb.shop.svc.cluster.local" in arguments and "--gzip" in arguments
    assert not any(PASSWORD in argument for argument in arguments)
    assert PASSWORD in (sandbox["calls"] / "mongodump.config").read_text()


def test_retention_keeps_the_newest_dumps_and_nothing_else_is_touched(sandbox: dict) -> None:
    backups = sandbox["backups"]
    for stamp in ("20261120-030000", "20261121-030000", "20261122-030000", "20261123-030000"):
        (backups / f"mongodb-{stamp}.archive.gz").write_text("old")
    (backups / "notes.txt").write_text("an operator's file")
    done = run("mongodb-backup.sh", sandbox, DUMP_NAME="mongodb-20261124-030000.archive.gz")
    assert done.returncode == 0, done.stderr
    assert dumps(sandbox) == ["mongodb-20261122-030000.archive.gz", "mongodb-20261123-030000.archive.gz",
                              "mongodb-20261124-030000.archive.gz", "notes.txt"]
    assert "removed mongodb-20261120-030000.archive.gz" in done.stdout
    assert "dumps kept: 3" in done.stdout


def test_a_failed_dump_leaves_no_partial_file_and_removes_no_old_dump(sandbox: dict) -> None:
    for stamp in ("20261120-030000", "20261121-030000", "20261122-030000"):
        (sandbox["backups"] / f"mongodb-{stamp}.archive.gz").write_text("old")
    before = dumps(sandbox)
    failed = run("mongodb-backup.sh", sandbox, DUMP_NAME="mongodb-20261124-030000.archive.gz", FAIL="1")
    assert failed.returncode != 0
    assert "connection refused" in failed.stderr
    assert dumps(sandbox) == before


@pytest.mark.parametrize("name, retention, complaint", [
    ("../etc/passwd", "3", "is not a dump name"),
    ("mongodb-latest.archive.gz", "3", "is not a dump name"),
    ("mongodb-20261124-030000.archive.gz", "0", "must be a positive number"),
])
def test_bad_input_is_refused_before_anything_runs(sandbox: dict, name: str, retention: str, complaint: str) -> None:
    refused = run("mongodb-backup.sh", sandbox, DUMP_NAME=name, BACKUP_RETENTION=retention)
    assert refused.returncode == 2
    assert complaint in refused.stderr
    assert not (sandbox["calls"] / "mongodump.args").exists()


def test_restore_replaces_the_collections_from_the_named_dump(sandbox: dict) -> None:
    (sandbox["backups"] / "mongodb-20261122-030000.archive.gz").write_text("dump")
    done = run("mongodb-restore.sh", sandbox, DUMP_NAME="mongodb-20261122-030000.archive.gz")
    assert done.returncode == 0, done.stderr
    arguments = (sandbox["calls"] / "mongorestore.args").read_text().splitlines()
    assert f"--archive={sandbox['backups']}/mongodb-20261122-030000.archive.gz" in arguments
    assert "--drop" in arguments
    assert not any(PASSWORD in argument for argument in arguments)


def test_restore_of_a_missing_dump_lists_those_there(sandbox: dict) -> None:
    (sandbox["backups"] / "mongodb-20261122-030000.archive.gz").write_text("dump")
    refused = run("mongodb-restore.sh", sandbox, DUMP_NAME="mongodb-20261101-030000.archive.gz")
    assert refused.returncode == 1
    assert "no dump 'mongodb-20261101-030000.archive.gz'" in refused.stderr
    assert "mongodb-20261122-030000.archive.gz" in refused.stderr
    assert not (sandbox["calls"] / "mongorestore.args").exists()
