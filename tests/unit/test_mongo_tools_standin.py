"""slipway's stand-in mongodump and mongorestore (sandbox/images/mongo-tools/mongo_tools.py), the
sandbox's backup and restore tools: their flags (only the dump scripts'), the --config file, the
mongodump archive format (against archives MongoDB's mongodump wrote, tests/unit/fixtures/
mongo-tools), and dump -> drop -> restore round trips against a real FerretDB (tests/ferretdb.py)
with the scripts' own flags."""

from __future__ import annotations

import datetime
import gzip
import importlib.util
import io
import re
import struct
import subprocess
from pathlib import Path

import bson
import pymongo
import pytest
from ferretdb import MONGO_TOOLS, FerretDB, snapshot

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "roles" / "app_ops" / "files"
FIXTURES = Path(__file__).parent / "fixtures" / "mongo-tools"
IMAGE = REPO / "sandbox" / "images" / "mongo-tools"

spec = importlib.util.spec_from_file_location("mongo_tools", MONGO_TOOLS)
mt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mt)


def run(mongo_tools: Path, tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(mongo_tools / tool), *args], capture_output=True, text=True,
                          env={"PATH": f"{mongo_tools}:/usr/bin:/bin"}, timeout=120)


def config_file(tmp_path: Path, password: str) -> Path:
    # As the scripts write it.
    path = tmp_path / "config.yml"
    path.write_text(f'password: "{password}"\n')
    return path


def script_flags(server: FerretDB, config: Path, archive: Path, *more: str) -> list[str]:
    """The flags the dump scripts give (test_the_scripts_give_exactly_the_flags_the_stand_in_takes)."""
    return [f"--host={server.host}", f"--port={server.port}", f"--username={server.username}",
            "--authenticationDatabase=admin", f"--config={config}", "--gzip", f"--archive={archive}", *more]


# --- flags and the config file ---------------------------------------------------------------

def script_tool_flags(script: str, tool: str) -> set[str]:
    text = (SCRIPTS / script).read_text()
    command = re.search(rf"^{tool} (?:.*\\\n)*.*$", text, re.MULTILINE).group(0)
    return set(re.findall(r"--([A-Za-z]+)", command))


@pytest.mark.parametrize(("script", "tool"), [("mongodb-backup.sh", "mongodump"),
                                              ("mongodb-restore.sh", "mongorestore")])
def test_the_scripts_give_exactly_the_flags_the_stand_in_takes(script: str, tool: str) -> None:
    assert script_tool_flags(script, tool) == set(mt.FLAGS[tool])


@pytest.mark.parametrize("tool", ["mongodump", "mongorestore"])
def test_help_names_the_stand_in_for_what_it_is(mongo_tools: Path, tool: str) -> None:
    done = run(mongo_tools, tool, "--help")
    assert done.returncode == 0
    assert f"is NOT MongoDB's {tool}" in done.stdout and "stand-in" in done.stdout
    version = run(mongo_tools, tool, "--version")
    assert "slipway stand-in" in version.stdout and "not MongoDB's Database Tools" in version.stdout


@pytest.mark.parametrize(("tool", "args", "complaint"), [
    ("mongodump", ["--out=dump"], "unknown or unsupported flag --out"),
    ("mongodump", ["--password=hunter2"], "unknown or unsupported flag --password"),
    ("mongodump", ["--drop"], "unknown or unsupported flag --drop"),
    ("mongorestore", ["--oplogReplay"], "unknown or unsupported flag --oplogReplay"),
    ("mongorestore", ["-h", "db"], "not a --flag"),
    ("mongorestore", ["--nsInclude", "shop.*"], "unknown or unsupported flag --nsInclude"),
    ("mongodump", ["--archive"], "--archive needs a file"),
    ("mongodump", ["--archive=-"], "no standard input or output"),
    ("mongodump", ["--host=db"], "--archive=FILE is required"),
    ("mongodump", ["--host=rs0/db-0,db-1", "--archive=x"], "a single host name"),
    ("mongodump", ["--host=db:27017", "--archive=x"], "the port goes in --port"),
    ("mongodump", ["--port=http", "--archive=x"], "not a port number"),
    ("mongodump", ["--gzip", "--gzip", "--archive=x"], "--gzip is given twice"),
    ("mongorestore", ["--drop=yes", "--archive=x"], "--drop takes no value"),
    ("mongodump", ["--username=root", "--archive=x"], "needs its password in a --config file"),
])
def test_any_other_flag_fails_clearly(mongo_tools: Path, tool: str, args: list[str], complaint: str) -> None:
    done = run(mongo_tools, tool, *args)
    assert done.returncode == mt.EXIT_BAD_OPTIONS
    assert complaint in done.stderr
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize(("text", "password"), [
    ('password: "s3cret Passw0rd"\n', "s3cret Passw0rd"),
    ('password: "a\\"b\\\\c\\x41\\u00e9"\n', 'a"b\\cAé'),
    ("password: 'it''s'  # comment\n", "it's"),
    ("---\n# the password\npassword: plain text # comment\n", "plain text"),
])
def test_the_config_file_gives_the_password(tmp_path: Path, text: str, password: str) -> None:
    (tmp_path / "c.yml").write_text(text)
    assert mt.read_config(str(tmp_path / "c.yml")) == password


@pytest.mark.parametrize(("text", "complaint"), [
    ('uri: "mongodb://x"\n', "reads only `password`"),
    ('password: "a"\npassword: "b"\n', "given twice"),
    ('password: "open\n', "unterminated"),
    ("password: |\n  block\n", "plain or quoted strings only"),
    ("# nothing\n", "has no `password`"),
])
def test_a_config_file_the_stand_in_cannot_read_fails(tmp_path: Path, text: str, complaint: str) -> None:
    (tmp_path / "c.yml").write_text(text)
    with pytest.raises(mt.Failure, match=re.escape(complaint)):
        mt.read_config(str(tmp_path / "c.yml"))


def test_the_image_pins_the_apps_pymongo() -> None:
    def pins(path: Path) -> dict[str, str]:
        return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.MULTILINE))
    image, app = pins(IMAGE / "requirements.txt"), pins(REPO / "app" / "requirements.txt")
    assert set(image) == {"pymongo", "dnspython"}
    assert image == {name: app[name] for name in image}


def test_the_image_runs_as_the_jobs_user_and_ships_both_tools() -> None:
    recipe = (IMAGE / "recipe.sh").read_text()
    assert '"USER 999:999"' in recipe
    for tool in ("mongodump", "mongorestore"):
        assert f'add "$recipe_dir/mongo_tools.py" usr/local/bin/{tool} 0755' in recipe


# --- the archive format ----------------------------------------------------------------------

def test_crc64_is_gos_crc64_ecma() -> None:
    # The check value of CRC-64/XZ (Go's crc64.ECMA table with its inverted start and end).
    assert mt.crc64(b"123456789") == 0x995DC9BBDF1939FA
    assert mt.crc64(b"") == 0
    data = bytes(range(256)) * 3 + b"tail"
    assert mt.crc64(data[100:], mt.crc64(data[:100])) == mt.crc64(data)


def read_fixture(name: str) -> tuple[mt.ArchiveReader, list[tuple[str, bytes]], dict[str, int]]:
    reader = mt.ArchiveReader(io.BytesIO((FIXTURES / name).read_bytes()), name)
    reader.read_prelude()
    documents: list[tuple[str, bytes]] = []
    counts = reader.blocks(on_document=lambda ns, raw: documents.append((ns, raw)))
    return reader, documents, counts


def test_archives_mongodump_wrote_are_read_and_their_crcs_check() -> None:
    reader, documents, counts = read_fixture("dump-w-oplog.archive")
    assert reader.header["server_version"] == "4.0.2"
    assert [f"{c['db']}.{c['collection']}" for c in reader.collections] == ["test.foo", ".oplog", "admin.system.version"]
    assert counts["test.foo"] == 25 and counts["admin.system.version"] == 1
    assert [bson.decode(raw)["a"] for ns, raw in documents if ns == "test.foo"] == list(range(1, 26))
    _, _, counts = read_fixture("test.bar.archive")
    assert counts == {"admin.system.version": 1, "test.bar": 1}


def key_types(document: bytes) -> list[tuple[str, str]]:
    """A BSON document's keys in order with their BSON types (pymongo decodes each to its own)."""
    names = {str: "string", int: "int32", bson.Int64: "int64", bool: "bool"}
    return [(key, names[type(value)]) for key, value in bson.decode(document).items()]


def blocks_of(data: bytes) -> list:
    """An archive after its magic number as a list of BSON documents (bytes) and "T" (terminators)."""
    out, at = [], 4
    while at < len(data):
        (size,) = struct.unpack_from("<I", data, at)
        if size == mt.TERMINATOR:
            out.append("T")
            at += 4
        else:
            out.append(data[at:at + size])
            at += size
    return out


def test_the_archive_is_laid_out_as_mongodump_lays_it_out() -> None:
    out = io.BytesIO()
    writer = mt.ArchiveWriter(out)
    meta = mt.metadata_json({"name": "foo", "type": "collection", "options": {}},
                            [{"v": 2, "key": {"_id": 1}, "name": "_id_"}])
    writer.prelude("7.0.42", [{"db": "test", "collection": "foo", "type": "collection", "metadata": meta},
                              {"db": "test", "collection": "none", "type": "collection", "metadata": meta}])
    docs = [bson.encode({"_id": i, "a": i}) for i in range(3)]
    writer.collection("test", "foo", iter(docs))
    writer.collection("test", "none", iter([]))
    data = out.getvalue()
    assert data[:4] == bytes.fromhex("6de29981")
    ours = blocks_of(data)
    # The header and collection metadata as mongo-tools' archive.Header and CollectionMetadata
    # marshal them (archive.go), the namespace headers as NamespaceHeader.MarshalBSON.
    assert key_types(ours[0]) == [("concurrent_collections", "int32"), ("version", "string"),
                                  ("server_version", "string"), ("tool_version", "string")]
    assert key_types(ours[1]) == [("db", "string"), ("collection", "string"), ("metadata", "string"),
                                  ("size", "int32"), ("type", "string")]
    assert ours[3] == "T"
    # One segment per collection and its EOF; a collection without documents has an empty segment.
    layout = ["H", "D", "D", "D", "T", "E", "T", "H", "T", "E", "T"]
    assert ["T" if b == "T" else "E" if bson.decode(b).get("EOF") is True else "H" if "EOF" in bson.decode(b)
            else "D" for b in ours[4:]] == layout
    # The namespace headers are as the real mongodump's, field for field and type for type.
    real = blocks_of((FIXTURES / "dump-w-oplog.archive").read_bytes())
    real_header = next(b for b in real if b != "T" and bson.decode(b).get("EOF") is False)
    assert key_types(ours[4]) == key_types(real_header) == [("db", "string"), ("collection", "string"),
                                                           ("EOF", "bool"), ("CRC", "int64")]
    eof = bson.decode(ours[9])
    assert eof["CRC"] % (1 << 64) == mt.crc64(b"".join(docs))
    # The metadata is canonical Extended JSON v2, as mongodump's (MarshalExtJSON canonical).
    assert bson.decode(ours[1])["metadata"] == (
        '{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],'
        '"collectionName":"foo","type":"collection"}')


def test_interleaved_segments_are_read_as_mongodump_writes_them_in_parallel() -> None:
    out = io.BytesIO()
    writer = mt.ArchiveWriter(out)
    writer.prelude("7.0.42", [{"db": "d", "collection": c, "type": "collection", "metadata": ""} for c in "ab"])
    docs = {c: [bson.encode({"_id": i, "c": c}) for i in range(3)] for c in "ab"}
    crc = {c: mt.crc64(b"".join(docs[c])) for c in "ab"}
    for c, part in (("a", docs["a"][:2]), ("b", docs["b"]), ("a", docs["a"][2:])):
        out.write(writer.namespace_header("d", c, eof=False, crc=0) + b"".join(part))
        writer.terminator()
    for c in "ba":
        out.write(writer.namespace_header("d", c, eof=True, crc=crc[c]))
        writer.terminator()
    reader = mt.ArchiveReader(io.BytesIO(out.getvalue()), "parallel")
    reader.read_prelude()
    seen: list[tuple[str, int]] = []
    assert reader.blocks(on_document=lambda ns, raw: seen.append((ns, bson.decode(raw)["_id"]))) == {"d.a": 3, "d.b": 3}
    assert seen == [("d.a", 0), ("d.a", 1), ("d.b", 0), ("d.b", 1), ("d.b", 2), ("d.a", 2)]


def test_a_damaged_archive_is_refused() -> None:
    out = io.BytesIO()
    writer = mt.ArchiveWriter(out)
    writer.prelude("7.0.42", [{"db": "test", "collection": "foo", "type": "collection", "metadata": ""}])
    writer.collection("test", "foo", iter([bson.encode({"_id": 1, "a": "xyz"})]))
    data = out.getvalue()

    def read(data: bytes) -> None:
        reader = mt.ArchiveReader(io.BytesIO(data), "x")
        reader.read_prelude()
        reader.blocks()

    read(data)
    with pytest.raises(mt.Failure, match="CRC mismatch for namespace test.foo"):
        read(data.replace(b"xyz", b"xyZ"))
    with pytest.raises(mt.Failure, match="ends in the middle of a block|unfinished"):
        read(data[:-30])
    with pytest.raises(mt.Failure, match="does not appear to be a mongodump archive .it is gzip-compressed"):
        read(gzip.compress(data))


# --- against FerretDB ------------------------------------------------------------------------

WHEN = datetime.datetime(2026, 11, 27, 3, 0, 0, 123000)


def fill(client: pymongo.MongoClient) -> None:
    """Several databases and collections, documents of many BSON types, and indexes."""
    shop = client.shop
    shop.cards.insert_many([{
        "slug": f"card-{i}", "title": f"Cärd {i}\u0000!", "n": i, "big": bson.Int64(2**40 + i), "ratio": i / 3,
        "neg0": -0.0, "when": WHEN, "before1970": datetime.datetime(1960, 1, 1), "tags": ["a", {"b": None}],
        "nested": {"deep": {"er": [1, 2, 3]}, "empty": {}, "none": []}, "flag": i % 2 == 0, "nothing": None,
        "uuid": bson.Binary(bytes(range(16)), 4), "bytes": bson.Binary(b"\x00\xff" * 3),
        "re": bson.Regex("^card", "i"), "ts": bson.Timestamp(1700000000, i + 1),
    } for i in range(30)])
    shop.cards.create_index("slug", unique=True, name="slug_unique")
    shop.cards.create_index([("n", pymongo.DESCENDING), ("title", pymongo.ASCENDING)], name="n_title")
    # More documents than one insert batch of the restore.
    shop.orders.insert_many([{"_id": i, "card": f"card-{i % 30}", "qty": i % 7} for i in range(1200)])
    shop.orders.create_index("card")
    shop.create_collection("empty")
    shop.empty.create_index("x", unique=True)
    client.queue.jobs.insert_many([{"_id": bson.ObjectId(), "state": s} for s in ("new", "done", "new")])
    client.queue.jobs.create_index([("state", 1), ("_id", -1)])
    client.admin.settings.insert_one({"_id": "app", "mode": "demo"})  # admin's own collections are data


def drop_everything(client: pymongo.MongoClient) -> None:
    for db in client.list_database_names():
        if db != "admin":
            client.drop_database(db)
    client.admin.settings.drop()


def test_dump_drop_restore_round_trips_every_database(mongo, ferretdb: FerretDB, mongo_tools: Path,
                                                      tmp_path: Path) -> None:
    fill(mongo)
    before = snapshot(mongo)
    assert set(before) == {"admin.settings", "queue.jobs", "shop.cards", "shop.empty", "shop.orders"}
    config, archive = config_file(tmp_path, ferretdb.password), tmp_path / "dump.archive.gz"

    dumped = run(mongo_tools, "mongodump", *script_flags(ferretdb, config, archive))
    assert dumped.returncode == 0, dumped.stderr
    assert "done dumping shop.orders (1200 documents)" in dumped.stderr
    assert gzip.decompress(archive.read_bytes())[:4] == bytes.fromhex("6de29981")
    # admin's system collections (users) are not in it.
    reader = mt.ArchiveReader(gzip.open(archive), "dump")
    reader.read_prelude()
    assert sorted(f"{c['db']}.{c['collection']}" for c in reader.collections) == sorted(before)

    drop_everything(mongo)
    assert snapshot(mongo) == {}
    restored = run(mongo_tools, "mongorestore", *script_flags(ferretdb, config, archive, "--drop"))
    assert restored.returncode == 0, restored.stderr
    assert "1234 document(s) restored successfully. 0 document(s) failed to restore." in restored.stderr
    assert snapshot(mongo) == before
    # The indexes work, not only exist.
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        mongo.shop.cards.insert_one({"slug": "card-3"})
    # The root user is still there and its password unchanged.
    assert ferretdb.client().admin.command("ping")["ok"] == 1


def test_drop_replaces_the_dumped_collections_and_leaves_others(mongo, ferretdb: FerretDB, mongo_tools: Path,
                                                                tmp_path: Path) -> None:
    fill(mongo)
    before = snapshot(mongo)
    config, archive = config_file(tmp_path, ferretdb.password), tmp_path / "dump.archive.gz"
    assert run(mongo_tools, "mongodump", *script_flags(ferretdb, config, archive)).returncode == 0
    mongo.shop.cards.update_many({}, {"$set": {"title": "changed"}})
    mongo.shop.cards.insert_one({"slug": "new"})
    mongo.shop.orders.drop_index("card_1")
    mongo.queue.jobs.delete_many({})
    mongo.shop.later.insert_one({"made": "after the dump"})

    restored = run(mongo_tools, "mongorestore", *script_flags(ferretdb, config, archive, "--drop"))
    assert restored.returncode == 0, restored.stderr
    after = snapshot(mongo)
    assert after.pop("shop.later")["documents"] != []
    assert after == before


def test_a_damaged_dump_is_refused_before_anything_changes(mongo, ferretdb: FerretDB, mongo_tools: Path,
                                                           tmp_path: Path) -> None:
    fill(mongo)
    config, archive = config_file(tmp_path, ferretdb.password), tmp_path / "dump.archive.gz"
    assert run(mongo_tools, "mongodump", *script_flags(ferretdb, config, archive)).returncode == 0
    mongo.shop.cards.delete_many({"n": {"$gt": 3}})
    current = snapshot(mongo)
    data = gzip.decompress(archive.read_bytes())
    # A changed byte in the last collection's documents (CRC), and an archive cut short.
    at = data.rindex(b"card-29")
    damaged = {"crc": data[:at] + b"card-2X" + data[at + 7:], "short": data[:len(data) - 200]}
    for kind, content in damaged.items():
        broken = tmp_path / f"{kind}.archive.gz"
        broken.write_bytes(gzip.compress(content))
        done = run(mongo_tools, "mongorestore", *script_flags(ferretdb, config, broken, "--drop"))
        assert done.returncode == 1, kind
        assert "Failed: " in done.stderr and ("CRC mismatch" in done.stderr if kind == "crc" else True)
        assert "dropping collection" not in done.stderr
        assert snapshot(mongo) == current


def test_mongodump_archives_restore(mongo, ferretdb: FerretDB, mongo_tools: Path, tmp_path: Path) -> None:
    """An archive MongoDB's mongodump wrote: its collections are restored; its admin.system.version
    and oplog are left out, as the stand-in says."""
    config = config_file(tmp_path, ferretdb.password)
    flags = [a for a in script_flags(ferretdb, config, FIXTURES / "dump-w-oplog.archive", "--drop") if a != "--gzip"]
    done = run(mongo_tools, "mongorestore", *flags)
    assert done.returncode == 0, done.stderr
    assert "skipping admin.system.version: users, roles and server settings are not restored" in done.stderr
    assert "skipping oplog" in done.stderr
    assert sorted(d["a"] for d in mongo.test.foo.find()) == list(range(1, 26))
    assert [ix["name"] for ix in mongo.test.foo.list_indexes()] == ["_id_"]
    assert mongo.admin["system.version"].count_documents({}) == 0


def test_gzip_must_match_the_archive(ferretdb: FerretDB, mongo_tools: Path, tmp_path: Path) -> None:
    config, plain = config_file(tmp_path, ferretdb.password), FIXTURES / "test.bar.archive"
    compressed = tmp_path / "test.bar.archive.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    without_gzip = [a for a in script_flags(ferretdb, config, compressed) if a != "--gzip"]
    done = run(mongo_tools, "mongorestore", *without_gzip)
    assert done.returncode == 1
    assert "does not appear to be a mongodump archive (it is gzip-compressed: add --gzip)" in done.stderr
    done = run(mongo_tools, "mongorestore", *script_flags(ferretdb, config, plain))
    assert done.returncode == 1
    assert "is not gzip-compressed: leave out --gzip" in done.stderr


def test_a_wrong_password_fails_clearly(ferretdb: FerretDB, mongo_tools: Path, tmp_path: Path) -> None:
    config, archive = config_file(tmp_path, "not-the-password"), tmp_path / "dump.archive.gz"
    done = run(mongo_tools, "mongodump", *script_flags(ferretdb, config, archive))
    assert done.returncode == 1
    assert "Failed: can't create session" in done.stderr and "uthentication failed" in done.stderr
    assert not archive.exists()
    assert "not-the-password" not in done.stderr
