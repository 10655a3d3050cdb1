"""Fixtures of the unit tests that run a real FerretDB (tests/ferretdb.py): one per test session
(per worker under xdist), emptied of the tests' databases before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ferretdb import FerretDB, ferretdb_binary, mongo_tools_bin


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerretDB]:
    # Not a skip: without FerretDB the backup and restore tools go untested.
    try:
        binary = ferretdb_binary()
    except LookupError as e:
        pytest.fail(f"{e}: build it (sandbox/build.sh) or set SLIPWAY_FERRETDB_BIN", pytrace=False)
    if not binary.is_file():
        pytest.fail(f"FerretDB binary {binary} does not exist", pytrace=False)
    server = FerretDB(binary, tmp_path_factory.mktemp("ferretdb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mongo(ferretdb: FerretDB):
    """A client of the FerretDB, logged in as root, with nothing left from earlier tests but
    admin's system collections (its users)."""
    client = ferretdb.client()
    for name in client.list_database_names():
        if name != "admin":
            client.drop_database(name)
    for name in client.admin.list_collection_names():
        if not name.startswith("system."):
            client.admin.drop_collection(name)
    yield client
    client.close()


@pytest.fixture(scope="session")
def mongo_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder to put first on PATH: the stand-in mongodump and mongorestore."""
    return mongo_tools_bin(tmp_path_factory.mktemp("mongo-tools") / "bin")
