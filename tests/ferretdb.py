"""A real FerretDB (the sandbox's MongoDB stand-in) on 127.0.0.1 for tests, and slipway's stand-in
mongodump/mongorestore (sandbox/images/mongo-tools/mongo_tools.py) ready to run against it.

FerretDB runs as the sandbox's image runs it (sandbox/images/ferretdb/entrypoint.sh): SQLite
handler, its own SCRAM users (--test-enable-new-auth) and a root user in `admin` made from
FERRETDB_SETUP_* in its environment, on a free port with its state in a temporary folder.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from playbook import REPO

BUILD = Path(REPO) / "sandbox" / "build.sh"
MONGO_TOOLS = Path(REPO) / "sandbox" / "images" / "mongo-tools" / "mongo_tools.py"
# Where a FerretDB binary was built by hand before sandbox/build.sh made one.
FALLBACK = Path("/tmp/ferretdb-bin/ferretdb")


def ferretdb_binary() -> Path:
    """The FerretDB binary, as the ferretdb image's recipe finds it: $SLIPWAY_FERRETDB_BIN, else
    `ferretdb` in the folder `sandbox/build.sh --print-dir` names; else the hand-built one.
    Raises LookupError naming where it looked."""
    looked = []
    if os.environ.get("SLIPWAY_FERRETDB_BIN"):
        return Path(os.environ["SLIPWAY_FERRETDB_BIN"])
    looked.append("$SLIPWAY_FERRETDB_BIN (unset)")
    # Until build.sh has --print-dir, calling it would start a build instead of naming its folder.
    if "--print-dir" in BUILD.read_text():
        done = subprocess.run([str(BUILD), "--print-dir"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            built = Path(done.stdout.strip().splitlines()[-1]) / "ferretdb"
            if os.access(built, os.X_OK):
                return built
            looked.append(str(built))
        else:
            looked.append(f"sandbox/build.sh --print-dir (failed: {done.stderr.strip()})")
    else:
        looked.append("sandbox/build.sh --print-dir (build.sh has no --print-dir yet)")
    if os.access(FALLBACK, os.X_OK):
        return FALLBACK
    looked.append(str(FALLBACK))
    raise LookupError("no FerretDB binary; looked at " + ", ".join(looked))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FerretDB:
    """A FerretDB process; `client()` logs in as its root user."""

    username = "root"

    def __init__(self, binary: Path, state: Path) -> None:
        self.binary, self.state = binary, state
        # Neither a quote nor a backslash: the dump scripts write it into a YAML string as it is.
        self.password = f"s3cret Passw0rd-{secrets.token_hex(4)}"
        self.host, self.port = "127.0.0.1", 0
        self.process: subprocess.Popen | None = None
        self.log = state / "ferretdb.log"

    def start(self, attempts: int = 3) -> None:
        (self.state / "data").mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DO_NOT_TRACK": "1",
               "FERRETDB_SETUP_DATABASE": "admin", "FERRETDB_SETUP_USERNAME": self.username,
               "FERRETDB_SETUP_PASSWORD": self.password}
        for _ in range(attempts):
            self.port = free_port()
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(
                    [str(self.binary), "--handler=sqlite", f"--sqlite-url=file:{self.state}/data/",
                     f"--state-dir={self.state}", f"--listen-addr={self.host}:{self.port}", "--debug-addr=-",
                     "--telemetry=disable", "--test-enable-new-auth", "--log-level=warn"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            if self._ready():
                return
            self.stop()
        raise RuntimeError(f"FerretDB ({self.binary}) did not start; its log:\n{self.log.read_text()[-3000:]}")

    def _ready(self, timeout: float = 30) -> bool:
        import pymongo
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken in the meantime
            client = self.client(serverSelectionTimeoutMS=500)
            try:
                client.admin.command("ping")
                return True
            except pymongo.errors.PyMongoError:
                time.sleep(0.2)
            finally:
                client.close()
        return False

    def client(self, **options):
        import pymongo
        return pymongo.MongoClient(self.host, self.port, username=self.username, password=self.password,
                                   authSource="admin", directConnection=True, **options)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def mongo_tools_bin(folder: Path) -> Path:
    """A folder with `mongodump` and `mongorestore` (links to the stand-in, which picks its tool
    by the name it runs as) and a `python3` that is this interpreter (the one with pymongo), for
    the stand-in's `#!/usr/bin/env python3`."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in ("mongodump", "mongorestore"):
        (folder / tool).symlink_to(MONGO_TOOLS)
    python = folder / "python3"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return folder


def snapshot(client) -> dict:
    """Every collection but admin's system ones (its users): its documents (their BSON bytes, in
    the order of their _id) and its indexes (name, key, unique)."""
    import bson
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument
    raw = CodecOptions(document_class=RawBSONDocument)
    out = {}
    for db in sorted(client.list_database_names()):
        for name in sorted(client[db].list_collection_names()):
            if db == "admin" and name.startswith("system."):
                continue
            documents = sorted((doc.raw for doc in client[db].get_collection(name, codec_options=raw).find()),
                               key=lambda data: str(bson.decode(data)["_id"]))
            indexes = sorted((ix["name"], list(ix["key"].items()), bool(ix.get("unique")))
                             for ix in client[db][name].list_indexes())
            out[f"{db}.{name}"] = {"documents": documents, "indexes": indexes}
    return out
