#!/usr/bin/env python3
"""mongodump and mongorestore as slipway's stand-ins (sandbox/images/mongo-tools/README.md).

NOT MongoDB's Database Tools: a small Python program (pymongo) that takes only the flags
slipway's dump scripts (roles/app_ops/files/mongodb-backup.sh, mongodb-restore.sh) give the real
tools, and refuses every other flag. Installed twice, as `mongodump` and `mongorestore`: the name
it is run by picks the tool.

    mongodump    --host=H --port=P --username=U --authenticationDatabase=DB --config=FILE
                 [--gzip] --archive=FILE
    mongorestore (the same) [--drop]

The archive is mongodump's archive format (mongo-tools' common/archive/spec.md, version 0.1),
written the way mongodump writes it with one collection at a time, gzip-compressed as a whole
with --gzip; mongorestore reads archives of either. The password comes only from the --config
file (YAML, the key `password`), never from the command line.
"""

from __future__ import annotations

import array
import datetime
import gzip
import io
import os
import re
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

TOOLS = ("mongodump", "mongorestore")
STANDIN_VERSION = "1.0"
ARCHIVE_FORMAT = "0.1"
MAGIC = 0x8199E26D
TERMINATOR = 0xFFFFFFFF
MAX_BSON_SIZE = 16 * 1024 * 1024  # the real tools' parser buffer, as the server's document limit
EXIT_FAILURE, EXIT_BAD_OPTIONS = 1, 3  # as mongo-tools' util.ExitFailure and ExitBadOptions

# Flags by tool: kind "value" takes `--flag=V` or `--flag V`, "path" only `--flag=V` (as the
# real --archive, whose value is optional), "switch" no value.
COMMON_FLAGS = {
    "host": "value", "port": "value", "username": "value", "authenticationDatabase": "value",
    "config": "value", "gzip": "switch", "archive": "path",
}
FLAGS = {"mongodump": COMMON_FLAGS, "mongorestore": {**COMMON_FLAGS, "drop": "switch"}}

# Namespaces the stand-in's mongodump skips: the real tool's (local, config but for the
# sharding collections it keeps, <db>.system.* but system.js, admin.system.keys, names with
# "$", MongoDB's internal databases) and, beyond it, admin's other system collections (users,
# roles, version): the server's own authentication data, which neither stand-in dumps nor
# restores.
CONFIG_COLLECTIONS_KEPT = {"chunks", "collections", "databases", "settings", "shards", "tags", "version"}


class Failure(Exception):
    """The tool fails: printed as the real tools print their errors, `Failed: ...`."""


class BadOptions(Exception):
    """A flag or value the stand-in does not take."""


# --- log -------------------------------------------------------------------------------------

def log(message: str) -> None:
    """A line on stderr, time-stamped as the real tools' log."""
    now = datetime.datetime.now(datetime.timezone.utc)
    sys.stderr.write(f"{now.strftime('%Y-%m-%dT%H:%M:%S.')}{now.microsecond // 1000:03d}+0000\t{message}\n")
    sys.stderr.flush()


# --- options ---------------------------------------------------------------------------------

def usage(tool: str) -> str:
    restore = tool == "mongorestore"
    does = ("restores every collection of a mongodump archive\n(format {f}), which it checks whole "
            "before it changes anything" if restore else
            "dumps every collection into a mongodump\narchive (format {f})").format(f=ARCHIVE_FORMAT)
    flags = [
        ("--host=HOST", "the server's host name or address (default: localhost)"),
        ("--port=PORT", "its port (default: 27017)"),
        ("--username=USER", "the user to authenticate as (SCRAM)"),
        ("--authenticationDatabase=DB", "the user's database (default: admin)"),
        ("--config=FILE", "a YAML file with the user's password, the key `password`\n"
                          f"{'':33}(the only way to give one: never on the command line)"),
        ("--gzip", "the archive is gzip-compressed as a whole"),
        ("--archive=FILE", f"the archive file ({'read' if restore else 'written'}; "
                           f"no standard {'input' if restore else 'output'})"),
        *([("--drop", "drop each collection before restoring it")] if restore else []),
        ("--help", "this text"),
        ("--version", "the stand-in's version"),
    ]
    return (
        f"Usage: {tool} --host=HOST --port=PORT --username=USER --authenticationDatabase=DB\n"
        f"         --config=FILE [--gzip] --archive=FILE{' [--drop]' if restore else ''}\n\n"
        f"{tool} (slipway stand-in {STANDIN_VERSION}) is NOT MongoDB's {tool}: it is slipway's small\n"
        "Python stand-in (pymongo) for its sandbox, where MongoDB's Database Tools cannot be had. It\n"
        f"takes only the flags below, which slipway's {'restore' if restore else 'backup'} script gives the real tool, and\n"
        f"refuses any other. It {does}.\n\n"
        + "".join(f"  {flag:<31}{text}\n" for flag, text in flags)
        + "\nUsers, roles and server settings (admin.system.*) are neither dumped nor restored.\n"
    )


def parse_args(tool: str, argv: list[str]) -> dict[str, Any]:
    flags = FLAGS[tool]
    options: dict[str, Any] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--help":
            return {"help": True}
        if arg == "--version":
            return {"version": True}
        if not arg.startswith("--") or arg == "--":
            # Its value is not shown: it might be a password.
            raise BadOptions("an argument that is not a --flag: the stand-in takes only "
                             f"{', '.join('--' + f for f in flags)} (see --help)")
        name, has_value, value = arg[2:].partition("=")
        kind = flags.get(name)
        if kind is None:
            raise BadOptions(f"unknown or unsupported flag --{name}: slipway's stand-in {tool} takes only "
                             f"{', '.join('--' + f for f in flags)} (see --help)")
        if name in options:
            raise BadOptions(f"--{name} is given twice")
        if kind == "switch":
            if has_value:
                raise BadOptions(f"--{name} takes no value")
            options[name] = True
            continue
        if not has_value:
            if kind == "path":
                raise BadOptions(f"--{name} needs a file (--{name}=FILE): the stand-in has no "
                                 f"standard {'input' if tool == 'mongorestore' else 'output'} archive")
            if not args:
                raise BadOptions(f"--{name} needs a value")
            value = args.pop(0)
        options[name] = value
    return check_options(tool, options)


def check_options(tool: str, options: dict[str, Any]) -> dict[str, Any]:
    host = options.get("host", "localhost")
    # A plain host name or address: no seed lists (a,b), replica set names (rs/h), ports (h:p).
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host):
        raise BadOptions(f"--host={host!r}: the stand-in takes a single host name or IPv4 address "
                         "(the port goes in --port)")
    port = options.get("port", "27017")
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        raise BadOptions(f"--port={port!r} is not a port number")
    if not options.get("archive"):
        raise BadOptions(f"--archive=FILE is required: the stand-in {'reads' if tool == 'mongorestore' else 'writes'} "
                         "archives only, no dump folders")
    if options["archive"] == "-":
        raise BadOptions("--archive=-: the stand-in has no standard input or output archive")
    password = read_config(options["config"]) if "config" in options else None
    if password is not None and "username" not in options:
        raise BadOptions("the --config file gives a password but there is no --username")
    if "username" in options and password is None:
        raise BadOptions("--username needs its password in a --config file (the stand-in never prompts "
                         "and takes no --password: a command line is visible to every process)")
    return {
        "host": host, "port": int(port), "username": options.get("username"), "password": password,
        "auth_db": options.get("authenticationDatabase", "admin"), "archive": options["archive"],
        "gzip": options.get("gzip", False), "drop": options.get("drop", False),
    }


# --- the --config file (YAML) ----------------------------------------------------------------

YAML_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
                "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
                "_": "\xa0", "L": "\u2028", "P": "\u2029"}
YAML_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def read_config(path: str) -> str:
    """The `password` of a YAML config file, as the real tools read it (only that key here)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise Failure(f"error opening file with --config: {e}") from e
    password = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)[ \t]*:(?:[ \t]+(.*))?", line.rstrip())
        if not match:
            raise Failure(f"error parsing config file {path}: line {number} is not `key: value` "
                          "(the stand-in reads one-line values only)")
        key, value = match.group(1), match.group(2) or ""
        if key != "password":
            raise Failure(f"error parsing config file {path}: key {key!r}: the stand-in reads only `password`")
        if password is not None:
            raise Failure(f"error parsing config file {path}: key `password` is given twice")
        password = yaml_scalar(value, f"config file {path}, line {number}")
    if password is None:
        raise Failure(f"error parsing config file {path}: it has no `password`")
    return password


def yaml_scalar(value: str, where: str) -> str:
    if value.startswith('"'):
        out, i = [], 1
        while True:
            if i >= len(value):
                raise Failure(f"error parsing {where}: unterminated double-quoted string")
            char = value[i]
            if char == '"':
                rest = value[i + 1:]
                break
            if char == "\\":
                code = value[i + 1:i + 2]
                if code in YAML_ESCAPES:
                    out.append(YAML_ESCAPES[code])
                    i += 2
                elif code in YAML_HEX_ESCAPES:
                    digits = value[i + 2:i + 2 + YAML_HEX_ESCAPES[code]]
                    if not re.fullmatch(r"[0-9A-Fa-f]{%d}" % YAML_HEX_ESCAPES[code], digits):
                        raise Failure(f"error parsing {where}: bad escape \\{code}{digits}")
                    out.append(chr(int(digits, 16)))
                    i += 2 + len(digits)
                else:
                    raise Failure(f"error parsing {where}: unknown escape \\{code}")
                continue
            out.append(char)
            i += 1
        scalar = "".join(out)
    elif value.startswith("'"):
        match = re.match(r"'((?:[^']|'')*)'", value)
        if not match:
            raise Failure(f"error parsing {where}: unterminated single-quoted string")
        scalar, rest = match.group(1).replace("''", "'"), value[match.end():]
    else:
        if value[:1] in ("[", "{", "|", ">", "&", "*", "!", "%", "@", "`"):
            raise Failure(f"error parsing {where}: the stand-in reads plain or quoted strings only")
        # A plain scalar ends where a comment (" #") starts.
        return re.split(r"(?:^|[ \t])#", value, maxsplit=1)[0].strip()
    if rest.strip() and not rest.strip().startswith("#"):
        raise Failure(f"error parsing {where}: text after the quoted string")
    return scalar


# --- the archive format ----------------------------------------------------------------------

def _crc64_tables() -> list[list[int]]:
    # CRC-64 with the ECMA-182 polynomial, bit-reversed, as Go's hash/crc64 with crc64.ECMA;
    # tables[k] advances a byte followed by k zero bytes ("slicing by 8": 8 bytes a step).
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1
        table.append(crc)
    tables = [table]
    for _ in range(7):
        tables.append([table[c & 0xFF] ^ (c >> 8) for c in tables[-1]])
    return tables


CRC64_TABLES = _crc64_tables()


def crc64(data: bytes, crc: int = 0) -> int:
    """Go's crc64.Update(crc, crc64.MakeTable(crc64.ECMA), data), in pure Python (some MB/s)."""
    t0, t1, t2, t3, t4, t5, t6, t7 = CRC64_TABLES
    crc ^= 0xFFFFFFFFFFFFFFFF
    whole = len(data) & ~7 if sys.byteorder == "little" else 0
    for word in array.array("Q", data[:whole]):
        crc ^= word
        crc = (t7[crc & 0xFF] ^ t6[(crc >> 8) & 0xFF] ^ t5[(crc >> 16) & 0xFF] ^ t4[(crc >> 24) & 0xFF]
               ^ t3[(crc >> 32) & 0xFF] ^ t2[(crc >> 40) & 0xFF] ^ t1[(crc >> 48) & 0xFF] ^ t0[crc >> 56])
    for byte in data[whole:]:
        crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def _int64(unsigned: int) -> int:
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


class ArchiveWriter:
    """Writes a mongodump archive as mongodump does with one collection at a time: the prelude
    (magic number, header, one metadata document per collection, terminator), then per
    collection a segment (namespace header, its documents, terminator; also when it has none)
    and its EOF (EOF header with the CRC of its documents, terminator)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out

    def prelude(self, server_version: str, collections: list[dict]) -> None:
        import bson
        self.out.write(struct.pack("<I", MAGIC))
        self.out.write(bson.encode({
            "concurrent_collections": 1, "version": ARCHIVE_FORMAT, "server_version": server_version,
            "tool_version": f"slipway-standin-{STANDIN_VERSION}",
        }))
        for c in collections:
            # size: 0, as mongodump writes it (it writes the prelude before any data).
            self.out.write(bson.encode({"db": c["db"], "collection": c["collection"], "metadata": c["metadata"],
                                        "size": 0, "type": c["type"]}))
        self.terminator()

    def collection(self, db: str, collection: str, documents: Iterator[bytes]) -> int:
        count, crc = 0, 0
        self.out.write(self.namespace_header(db, collection, eof=False, crc=0))
        for raw in documents:
            self.out.write(raw)
            crc = crc64(raw, crc)
            count += 1
        self.terminator()
        self.out.write(self.namespace_header(db, collection, eof=True, crc=crc))
        self.terminator()
        return count

    def terminator(self) -> None:
        self.out.write(struct.pack("<I", TERMINATOR))

    @staticmethod
    def namespace_header(db: str, collection: str, eof: bool, crc: int) -> bytes:
        import bson
        return bson.encode({"db": db, "collection": collection, "EOF": eof, "CRC": bson.Int64(_int64(crc))})


class ArchiveReader:
    """Reads a mongodump archive (any mongodump's: segments of collections may interleave) and
    checks it as mongorestore's demultiplexer does: every block has a header, a namespace's
    documents match its EOF's CRC, and every collection of the prelude is finished."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream, self.name = stream, name
        self.header: dict = {}
        self.collections: list[dict] = []

    def _read(self, size: int) -> bytes:
        data = self.stream.read(size)
        if len(data) != size:
            raise Failure(f"corruption found in archive {self.name}: it ends in the middle of a block")
        return data

    def _bson_or_terminator(self, at_block_start: bool = False) -> bytes | None:
        """A BSON document's bytes, None for a terminator, b"" at the archive's end (only where a
        block may start)."""
        head = self.stream.read(4)
        if not head and at_block_start:
            return b""
        if len(head) != 4:
            raise Failure(f"corruption found in archive {self.name}: it ends in the middle of a block")
        (size,) = struct.unpack("<I", head)
        if size == TERMINATOR:
            return None
        if size < 5 or size > MAX_BSON_SIZE:
            raise Failure(f"corruption found in archive {self.name}: {size} is neither a valid BSON length "
                          "nor an archive terminator")
        data = head + self._read(size - 4)
        if data[-1] != 0:
            raise Failure(f"corruption found in archive {self.name}: a BSON document does not end with a null byte")
        return data

    def _decode(self, data: bytes, what: str) -> dict:
        import bson
        try:
            return bson.decode(data)
        except Exception as e:  # bson's errors are of several kinds
            raise Failure(f"corruption found in archive {self.name}: {what} is not BSON ({e})") from e

    def read_prelude(self) -> None:
        magic = self.stream.read(4)
        if len(magic) != 4 or struct.unpack("<I", magic)[0] != MAGIC:
            hint = " (it is gzip-compressed: add --gzip)" if magic[:2] == b"\x1f\x8b" else ""
            raise Failure(f"{self.name} does not appear to be a mongodump archive{hint}")
        header = self._bson_or_terminator()
        if not header:
            raise Failure(f"corruption found in archive {self.name}: the prelude has no header")
        self.header = self._decode(header, "the header")
        if self.header.get("version") != ARCHIVE_FORMAT:
            raise Failure(f"archive {self.name} is of format version {self.header.get('version')!r}; "
                          f"the stand-in reads {ARCHIVE_FORMAT}")
        while (data := self._bson_or_terminator()) is not None:
            meta = self._decode(data, "a collection's metadata")
            if not isinstance(meta.get("db"), str) or not isinstance(meta.get("collection"), str):
                raise Failure(f"corruption found in archive {self.name}: collection metadata without db/collection")
            self.collections.append(meta)

    def blocks(self, on_document: Callable[[str, bytes], None] | None = None,
               on_open: Callable[[str], None] | None = None,
               on_end: Callable[[str], None] | None = None, verify: bool = True) -> dict[str, int]:
        """Reads the blocks after the prelude, calling on_open(ns) at a namespace's first header,
        on_document(ns, raw) for each document and on_end(ns) at its EOF; returns the number of
        documents of each namespace. verify=False skips the CRCs (of an archive read before)."""
        expected = {f"{c['db']}.{c['collection']}" for c in self.collections}
        state: dict[str, str] = {}  # ns -> "open" | "closed"
        crcs: dict[str, int] = {}
        counts: dict[str, int] = {}
        while True:
            data = self._bson_or_terminator(at_block_start=True)
            if data == b"":
                break
            if data is None:
                raise Failure(f"corruption found in archive {self.name}: consecutive terminators / "
                              "headerless blocks are not allowed")
            header = self._decode(data, "a namespace header")
            if not header.get("collection"):
                raise Failure(f"corruption found in archive {self.name}: a namespace header has no collection")
            ns = f"{header.get('db', '')}.{header['collection']}"
            if ns not in expected:
                raise Failure(f"corruption found in archive {self.name}: data of {ns}, which its prelude "
                              "does not list")
            if state.get(ns) == "closed":
                raise Failure(f"corruption found in archive {self.name}: {ns} continues after its EOF")
            if ns not in state:
                state[ns], crcs[ns], counts[ns] = "open", 0, 0
                if on_open:
                    on_open(ns)
            if header.get("EOF"):
                crc = header.get("CRC", 0) % (1 << 64)
                if verify and crc != crcs[ns]:
                    raise Failure(f"CRC mismatch for namespace {ns} in archive {self.name}: "
                                  f"{crcs[ns]} != {crc}")
                state[ns] = "closed"
                if self._bson_or_terminator() is not None:
                    raise Failure(f"corruption found in archive {self.name}: documents after {ns}'s EOF")
                if on_end:
                    on_end(ns)
                continue
            while (doc := self._bson_or_terminator()) is not None:
                if verify:
                    crcs[ns] = crc64(doc, crcs[ns])
                counts[ns] += 1
                if on_document:
                    on_document(ns, doc)
        unfinished = sorted(ns for ns, s in state.items() if s != "closed")
        if unfinished:
            raise Failure(f"archive {self.name} finished but contained files were unfinished ({', '.join(unfinished)})")
        unseen = sorted(expected - set(state))
        if unseen:
            raise Failure(f"archive {self.name} finished before all collections were seen ({', '.join(unseen)})")
        return counts


# --- the server ------------------------------------------------------------------------------

def connect(tool: str, options: dict[str, Any]):
    import pymongo
    auth = {}
    if options["username"] is not None:
        auth = {"username": options["username"], "password": options["password"], "authSource": options["auth_db"]}
    client = pymongo.MongoClient(host=options["host"], port=options["port"], directConnection=True,
                                 appname=f"{tool} (slipway stand-in)",
                                 serverSelectionTimeoutMS=30_000, connectTimeoutMS=10_000, **auth)
    try:
        version = client.admin.command("buildInfo").get("version", "0.0.0")
    except pymongo.errors.PyMongoError as e:
        client.close()
        raise Failure(f"can't create session: {e}") from e
    return client, str(version)


def skipped_by_dump(db: str, collection: str) -> bool:
    """Whether mongodump leaves the collection out (see CONFIG_COLLECTIONS_KEPT above)."""
    if db == "admin":
        return collection.startswith("system.")
    if db == "config":
        return collection not in CONFIG_COLLECTIONS_KEPT
    if collection.startswith("system.") and collection != "system.js":
        return True
    return "$" in collection


def skipped_by_restore(db: str, collection: str) -> str | None:
    """Why mongorestore leaves a collection of an archive alone, if it does."""
    if db == "":
        return "not a collection (an oplog: the stand-in has no --oplogReplay)"
    if db == "admin" and collection.startswith("system."):
        return "users, roles and server settings are not restored by the stand-in"
    return None


def metadata_json(collection: dict, indexes: list) -> str:
    """The collection's metadata as mongodump writes it: canonical Extended JSON v2, compact."""
    from bson import SON
    from bson.json_util import CANONICAL_JSON_OPTIONS, dumps
    meta = SON()
    if collection.get("options"):
        meta["options"] = collection["options"]
    meta["indexes"] = indexes
    uuid = (collection.get("info") or {}).get("uuid")
    if getattr(uuid, "subtype", None) == 4:
        meta["uuid"] = bytes(uuid).hex()
    meta["collectionName"] = collection["name"]
    if collection.get("type"):
        meta["type"] = collection["type"]
    return dumps(meta, json_options=CANONICAL_JSON_OPTIONS, separators=(",", ":"))


def open_output(path: str, compress: bool) -> tuple[IO[bytes], Callable[[], None]]:
    try:
        raw = open(path, "wb")  # noqa: SIM115  (closed by the returned function)
    except OSError as e:
        raise Failure(f"error opening archive file {path}: {e}") from e
    out: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0, filename="") if compress \
        else io.BufferedWriter(raw, 1 << 20)

    def close() -> None:
        out.close()
        raw.flush()
        os.fsync(raw.fileno())
        raw.close()

    return out, close


def open_input(path: str, compressed: bool) -> IO[bytes]:
    try:
        raw = open(path, "rb")  # noqa: SIM115  (closed by the caller)
    except OSError as e:
        raise Failure(f"error opening archive file {path}: {e}") from e
    if not compressed:
        return io.BufferedReader(raw, 1 << 20)
    if raw.read(2) != b"\x1f\x8b":
        raw.close()
        raise Failure(f"{path} is not gzip-compressed: leave out --gzip")
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb")


# --- mongodump -------------------------------------------------------------------------------

def mongodump(options: dict[str, Any]) -> None:
    import pymongo
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument
    client, server_version = connect("mongodump", options)
    raw_documents = CodecOptions(document_class=RawBSONDocument)
    try:
        collections = []
        for db in client.list_database_names():
            if db == "local" or db.startswith("__mdb_internal"):
                continue
            for info in client[db].list_collections():
                name = info["name"]
                if skipped_by_dump(db, name):
                    continue
                kind = info.get("type", "collection")
                if kind != "collection":
                    raise Failure(f"{db}.{name} is a {kind}: the stand-in dumps collections only")
                indexes = list(client[db][name].list_indexes())
                collections.append({"db": db, "collection": name, "type": kind,
                                    "metadata": metadata_json(info, indexes)})
        out, close = open_output(options["archive"], options["gzip"])
        try:
            writer = ArchiveWriter(out)
            writer.prelude(server_version, collections)
            for c in collections:
                ns = f"{c['db']}.{c['collection']}"
                log(f"writing {ns} to archive '{options['archive']}'")
                cursor = client[c["db"]].get_collection(c["collection"], codec_options=raw_documents).find()
                count = writer.collection(c["db"], c["collection"], (doc.raw for doc in cursor))
                log(f"done dumping {ns} ({count} document{'' if count == 1 else 's'})")
        finally:
            close()
    except pymongo.errors.PyMongoError as e:
        raise Failure(str(e)) from e
    finally:
        client.close()


# --- mongorestore ----------------------------------------------------------------------------

INSERT_BATCH_DOCUMENTS = 1000
INSERT_BATCH_BYTES = 8 * 1024 * 1024


class Restorer:
    """Restores the namespaces of an archive as mongorestore does: each collection dropped
    (--drop) and created with its options, its documents inserted, then its indexes built."""

    def __init__(self, client, options: dict[str, Any], metadata: dict[str, dict]) -> None:
        self.client, self.options, self.metadata = client, options, metadata
        self.batches: dict[str, list] = {}
        self.batch_bytes: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def _collection(self, ns: str):
        from bson.codec_options import CodecOptions
        from bson.raw_bson import RawBSONDocument
        meta = self.metadata[ns]
        return self.client[meta["db"]].get_collection(meta["collection"],
                                                      codec_options=CodecOptions(document_class=RawBSONDocument))

    def open(self, ns: str) -> None:
        meta = self.metadata[ns]
        if meta["skip"]:
            return
        database = self.client[meta["db"]]
        if self.options["drop"]:
            log(f"dropping collection {ns} before restoring")
            database.drop_collection(meta["collection"])
        log(f"restoring {ns} from archive '{self.options['archive']}'")
        if meta["collection"] not in database.list_collection_names(filter={"name": meta["collection"]}):
            from bson import SON
            database.command(SON([("create", meta["collection"]), *meta["options"].items()]))
        self.batches[ns], self.batch_bytes[ns], self.counts[ns] = [], 0, 0

    def document(self, ns: str, raw: bytes) -> None:
        if self.metadata[ns]["skip"]:
            return
        from bson.raw_bson import RawBSONDocument
        self.batches[ns].append(RawBSONDocument(raw))
        self.batch_bytes[ns] += len(raw)
        if len(self.batches[ns]) >= INSERT_BATCH_DOCUMENTS or self.batch_bytes[ns] >= INSERT_BATCH_BYTES:
            self.flush(ns)

    def flush(self, ns: str) -> None:
        import pymongo
        batch = self.batches[ns]
        if not batch:
            return
        try:
            self._collection(ns).insert_many(batch, ordered=True)
        except pymongo.errors.BulkWriteError as e:
            errors = e.details.get("writeErrors", [])
            first = errors[0].get("errmsg", "") if errors else str(e)
            raise Failure(f"restoring {ns}: {len(errors) or 'some'} document(s) failed to insert: {first}") from e
        self.counts[ns] += len(batch)
        self.batches[ns], self.batch_bytes[ns] = [], 0

    def end(self, ns: str) -> None:
        meta = self.metadata[ns]
        if meta["skip"]:
            return
        self.flush(ns)
        count = self.counts[ns]
        log(f"finished restoring {ns} ({count} document{'' if count == 1 else 's'}, 0 failures)")
        indexes = []
        for index in meta["indexes"]:
            if index.get("name") == "_id_":
                continue
            # As mongorestore without --keepIndexVersion: the server picks the index version.
            indexes.append({k: v for k, v in index.items() if k not in ("v", "ns")})
        if indexes:
            from bson import SON
            log(f"restoring indexes for collection {ns} from metadata: "
                f"{', '.join(str(i.get('name')) for i in indexes)}")
            self.client[meta["db"]].command(SON([("createIndexes", meta["collection"]), ("indexes", indexes)]))


def restore_metadata(reader: ArchiveReader) -> dict[str, dict]:
    """Each namespace of the archive's prelude: its options and indexes, and whether (and why)
    it is left out; refuses kinds the stand-in cannot restore, before anything is changed."""
    from bson.json_util import CANONICAL_JSON_OPTIONS, loads
    found = {}
    for c in reader.collections:
        db, collection = c["db"], c["collection"]
        ns = f"{db}.{collection}"
        why = skipped_by_restore(db, collection)
        meta: dict[str, Any] = {"db": db, "collection": collection, "skip": why, "options": {}, "indexes": []}
        if not why:
            kind = c.get("type") or "collection"
            if kind != "collection":
                raise Failure(f"{ns} in the archive is a {kind}: the stand-in restores collections only")
            if c.get("metadata"):
                try:
                    parsed = loads(c["metadata"], json_options=CANONICAL_JSON_OPTIONS)
                except ValueError as e:
                    raise Failure(f"the metadata of {ns} in the archive is not Extended JSON: {e}") from e
                meta["options"] = dict(parsed.get("options") or {})
                meta["indexes"] = list(parsed.get("indexes") or [])
                if parsed.get("type", "collection") != "collection":
                    raise Failure(f"{ns} in the archive is a {parsed['type']}: the stand-in restores collections only")
        found[ns] = meta
    return found


def read_archive(path: str, compressed: bool, **callbacks: Any) -> tuple[ArchiveReader, dict[str, dict], dict[str, int]]:
    with open_input(path, compressed) as stream:
        reader = ArchiveReader(stream, f"'{path}'")
        try:
            reader.read_prelude()
            metadata = restore_metadata(reader)
            counts = reader.blocks(**callbacks)
        except (OSError, EOFError, zlib.error) as e:
            raise Failure(f"reading archive '{path}': {e}") from e
    return reader, metadata, counts


def mongorestore(options: dict[str, Any]) -> None:
    import pymongo
    path = options["archive"]
    # First the whole archive is read and checked (its structure, CRCs, what it holds): a
    # damaged or truncated one fails here, before any collection is dropped.
    reader, metadata, counts = read_archive(path, options["gzip"])
    log(f"archive '{path}': format {reader.header.get('version')} from server {reader.header.get('server_version')} "
        f"by {reader.header.get('tool_version')}: {len(counts)} namespaces, {sum(counts.values())} documents, "
        "checksums correct")
    for ns, meta in metadata.items():
        if meta["skip"]:
            log(f"skipping {ns.lstrip('.')}: {meta['skip']}")
    client, _ = connect("mongorestore", options)
    try:
        restorer = Restorer(client, options, metadata)
        read_archive(path, options["gzip"], on_open=restorer.open, on_document=restorer.document,
                     on_end=restorer.end, verify=False)
        total = sum(restorer.counts.values())
        log(f"{total} document(s) restored successfully. 0 document(s) failed to restore.")
    except pymongo.errors.PyMongoError as e:
        raise Failure(str(e)) from e
    finally:
        client.close()


# --- main ------------------------------------------------------------------------------------

def fail(message: str, code: int) -> NoReturn:
    log(f"Failed: {message}")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    tool = os.path.basename(argv[0])
    if tool not in TOOLS:
        fail(f"run as mongodump or mongorestore (a link or copy of that name), not {tool!r}", EXIT_BAD_OPTIONS)
    try:
        options = parse_args(tool, argv[1:])
    except BadOptions as e:
        log(f"error parsing command line options: {e}")
        log(f"try '{tool} --help' for more information")
        sys.exit(EXIT_BAD_OPTIONS)
    except Failure as e:
        fail(str(e), EXIT_BAD_OPTIONS)
    if options.get("help"):
        sys.stdout.write(usage(tool))
        return
    if options.get("version"):
        try:
            import pymongo
            with_pymongo = f"pymongo {pymongo.version}"
        except ImportError:
            with_pymongo = "no pymongo"
        print(f"{tool} (slipway stand-in) version: {STANDIN_VERSION}, {with_pymongo}; not MongoDB's Database Tools")
        return
    try:
        import pymongo  # noqa: F401
    except ImportError:
        fail(f"{tool} (slipway stand-in) needs pymongo, which {sys.executable} does not have", EXIT_FAILURE)
    try:
        (mongodump if tool == "mongodump" else mongorestore)(options)
    except Failure as e:
        fail(str(e), EXIT_FAILURE)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_FAILURE)


if __name__ == "__main__":
    main()
