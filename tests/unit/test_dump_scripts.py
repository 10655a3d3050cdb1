"""The backup and restore scripts the dump Jobs run, run here with bash: against a recording fake
mongodump/mongorestore (naming, retention, failure safety, that the password never reaches a
command line), and end to end with the sandbox's stand-in tools (sandbox/images/mongo-tools)
against a real FerretDB (tests/ferretdb.py), the fake still recording what they were given."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import pytest
from ferretdb import FerretDB, snapshot

FILES = Path(__file__).resolve().parents[2] / "roles" / "app_ops" / "files"
PASSWORD = "s3cretPassw0rd"

# Records its arguments and config file, then fails as told, runs the tool of its name in
# $REAL_TOOLS, or writes an "archive".
STAND_IN = """#!/bin/bash
printf '%s\\n' "$@" > "$CALLS/$(basename "$0").args"
for arg; do case "$arg" in --config=*) cp "${arg#--config=}" "$CALLS/$(basename "$0").config";; esac; done
if [ -n "${FAIL:-}" ]; then echo "Failed: connection refused" >&2; exit 1; fi
if [ -n "${REAL_TOOLS:-}" ]; then exec "$REAL_TOOLS/$(basename "$0")" "$@"; fi
for arg; do case "$arg" in --archive=*) [ "$(basename "$0")" = mongodump ] && echo dump > "${arg#--archive=}";; esac; done
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


# --- end to end: the sandbox's stand-in tools against FerretDB ---------------------------------

@pytest.fixture
def against_ferretdb(sandbox: dict, ferretdb: FerretDB, mongo_tools: Path, tmp_path: Path) -> dict:
    """The scripts' environment pointed at the FerretDB, the fake recording in front of the tools."""
    secret = tmp_path / "ferretdb-password.txt"
    secret.write_text(ferretdb.password)
    # The tools' folder also gives them their python3 (this interpreter, with pymongo).
    path = f"{sandbox['env']['PATH'].split(':', 1)[0]}:{mongo_tools}:{os.environ['PATH']}"
    sandbox["env"].update({"PATH": path, "REAL_TOOLS": str(mongo_tools), "MONGODB_HOST": ferretdb.host,
                           "MONGODB_PORT": str(ferretdb.port), "MONGODB_USERNAME": ferretdb.username,
                           "MONGODB_PASSWORD_FILE": str(secret)})
    return sandbox


def test_backup_then_restore_end_to_end(against_ferretdb: dict, mongo, ferretdb: FerretDB) -> None:
    mongo.core.cards.insert_many([{"slug": f"card-{i}", "title": f"Card {i}"} for i in range(20)])
    mongo.core.cards.create_index("slug", unique=True, name="slug_unique")
    mongo.core.jobs.insert_one({"state": "new"})
    mongo.other.things.insert_many([{"_id": i} for i in range(3)])
    before = snapshot(mongo)

    done = run("mongodb-backup.sh", against_ferretdb, DUMP_NAME="mongodb-20261127-030000.archive.gz")
    assert done.returncode == 0, done.stderr
    dump = against_ferretdb["backups"] / "mongodb-20261127-030000.archive.gz"
    assert dumps(against_ferretdb) == [dump.name]  # and no partial file
    assert gzip.decompress(dump.read_bytes())[:4] == bytes.fromhex("6de29981")  # mongodump's archive
    assert "done dumping core.cards (20 documents)" in done.stderr

    mongo.core.cards.delete_many({})
    mongo.core.cards.drop_index("slug_unique")
    mongo.core.jobs.insert_one({"state": "after the backup"})
    mongo.drop_database("other")
    done = run("mongodb-restore.sh", against_ferretdb, DUMP_NAME=dump.name)
    assert done.returncode == 0, done.stderr
    assert "restore: restored mongodb-20261127-030000.archive.gz" in done.stdout
    assert snapshot(mongo) == before

    calls = against_ferretdb["calls"]
    for tool in ("mongodump", "mongorestore"):
        arguments = (calls / f"{tool}.args").read_text().splitlines()
        assert not any(ferretdb.password in argument for argument in arguments)
        assert ferretdb.password in (calls / f"{tool}.config").read_text()
    assert ferretdb.password not in done.stdout + done.stderr


def test_a_backup_the_server_refuses_keeps_the_old_dumps(against_ferretdb: dict, mongo, tmp_path: Path) -> None:
    (against_ferretdb["backups"] / "mongodb-20261120-030000.archive.gz").write_text("old")
    wrong = tmp_path / "wrong-password.txt"
    wrong.write_text("not the password")
    done = run("mongodb-backup.sh", against_ferretdb, DUMP_NAME="mongodb-20261127-030000.archive.gz",
               MONGODB_PASSWORD_FILE=str(wrong))
    assert done.returncode == 1
    assert "Failed: can't create session" in done.stderr
    assert dumps(against_ferretdb) == ["mongodb-20261120-030000.archive.gz"]
