"""The sandbox's locally made images: their tags (sandbox/make-image.sh --print-tag), the FerretDB
entrypoint's mapping of the mongo image's interface (run with dash against a stand-in ferretdb),
the data stores' probes, the sandbox inventory's data store settings and the dump Jobs' image."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import app_manifests, app_model

REPO = Path(__file__).resolve().parents[2]
MAKE_IMAGE = REPO / "sandbox" / "make-image.sh"
ENTRYPOINT = REPO / "sandbox" / "images" / "ferretdb" / "entrypoint.sh"
DEFAULTS = yaml.safe_load((REPO / "roles" / "slipway_app" / "defaults" / "main.yml").read_text())
SANDBOX = yaml.safe_load((REPO / "inventory" / "sandbox" / "group_vars" / "all.yml").read_text())
RECIPES = {"ee-base": "slipway/ee-base", "python-base": "slipway/python-base", "redis": "slipway/redis", "ferretdb": "slipway/ferretdb",
           "mongo-tools": "slipway/mongo-tools"}


@pytest.fixture
def ferretdb_bin(tmp_path: Path) -> Path:
    binary = tmp_path / "ferretdb"
    binary.write_bytes(b"\x7fELF not really FerretDB\n")
    return binary


def print_tag(name: str, ferretdb_bin: Path, **env: str) -> str:
    run = subprocess.run([str(MAKE_IMAGE), name, "--print-tag"], capture_output=True, text=True, check=True,
                         env={**os.environ, "SLIPWAY_FERRETDB_BIN": str(ferretdb_bin), "DOCKER_HOST": "unix:///nowhere",
                              **env})
    return run.stdout.strip()


@pytest.mark.parametrize(("name", "repo"), sorted(RECIPES.items()))
def test_print_tag_needs_no_engine_and_is_stable(name: str, repo: str, ferretdb_bin: Path) -> None:
    tag = print_tag(name, ferretdb_bin)
    assert re.fullmatch(re.escape(repo) + r":bookworm-[0-9a-f]{12}", tag), tag
    assert print_tag(name, ferretdb_bin) == tag


def test_each_recipe_has_its_own_tag(ferretdb_bin: Path) -> None:
    tags = {print_tag(name, ferretdb_bin).split(":")[1] for name in RECIPES}
    assert len(tags) == len(RECIPES)


def test_an_added_files_content_is_in_the_tag_and_its_path_is_not(ferretdb_bin: Path, tmp_path: Path) -> None:
    before = print_tag("ferretdb", ferretdb_bin)
    moved = tmp_path / "elsewhere" / "ferretdb"
    moved.parent.mkdir()
    shutil.copy(ferretdb_bin, moved)
    assert print_tag("ferretdb", moved) == before
    moved.write_bytes(b"\x7fELF another build\n")
    assert print_tag("ferretdb", moved) != before


def test_a_missing_binary_is_named(tmp_path: Path) -> None:
    run = subprocess.run([str(MAKE_IMAGE), "ferretdb", "--print-tag"], capture_output=True, text=True,
                         env={**os.environ, "SLIPWAY_FERRETDB_BIN": str(tmp_path / "absent")})
    assert run.returncode != 0
    assert f"{tmp_path / 'absent'} (to be added as usr/local/bin/ferretdb) does not exist" in run.stderr


def test_an_unknown_image_lists_the_recipes() -> None:
    run = subprocess.run([str(MAKE_IMAGE), "postgres", "--print-tag"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "NAME one of: ee-base ferretdb mongo-tools python-base redis" in run.stderr


# Records how the entrypoint started it: its arguments and the FERRETDB_* environment.
STAND_IN = """#!/bin/sh
printf '%s\\n' "$@" > "$CALLS/args"
env | grep -E '^(FERRETDB_|DO_NOT_TRACK=|MONGO_INITDB_)' | sort > "$CALLS/env"
"""


@pytest.fixture
def entrypoint(tmp_path: Path):
    if not shutil.which("dash"):
        pytest.skip("dash (the image's /bin/sh) is not installed")
    tools, calls = tmp_path / "bin", tmp_path / "calls"
    tools.mkdir()
    calls.mkdir()
    (tools / "ferretdb").write_text(STAND_IN)
    (tools / "ferretdb").chmod(0o755)

    def run(*args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str], dict[str, str]]:
        done = subprocess.run(["dash", str(ENTRYPOINT), *args], capture_output=True, text=True,
                              env={"PATH": f"{tools}:/usr/bin:/bin", "CALLS": str(calls), **env})
        if done.returncode:
            return done, [], {}
        lines = (calls / "env").read_text().splitlines()
        return done, (calls / "args").read_text().splitlines(), dict(line.split("=", 1) for line in lines)

    return run


def test_the_mongo_interface_creates_the_root_user_in_admin(entrypoint, tmp_path: Path) -> None:
    secret = tmp_path / "password.txt"
    secret.write_text("s3cret Passw0rd\n")
    done, args, env = entrypoint(MONGO_INITDB_ROOT_USERNAME="root", MONGO_INITDB_ROOT_PASSWORD_FILE=str(secret))
    assert done.returncode == 0, done.stderr
    assert args == ["--handler=sqlite", "--sqlite-url=file:/data/db/", "--state-dir=/data/db",
                    "--listen-addr=0.0.0.0:27017", "--debug-addr=-", "--telemetry=disable", "--test-enable-new-auth"]
    assert env == {"DO_NOT_TRACK": "1", "FERRETDB_SETUP_DATABASE": "admin", "FERRETDB_SETUP_USERNAME": "root",
                   "FERRETDB_SETUP_PASSWORD": "s3cret Passw0rd",
                   "MONGO_INITDB_ROOT_PASSWORD_FILE": str(secret), "MONGO_INITDB_ROOT_USERNAME": "root"}
    assert not any("s3cret" in arg for arg in args)


def test_arguments_come_last_and_override(entrypoint) -> None:
    done, args, _ = entrypoint("--listen-addr=127.0.0.1:40000", MONGO_INITDB_ROOT_USERNAME="root",
                               MONGO_INITDB_ROOT_PASSWORD="pw")
    assert done.returncode == 0, done.stderr
    assert args[-2:] == ["--test-enable-new-auth", "--listen-addr=127.0.0.1:40000"]


def test_without_a_user_there_is_no_authentication(entrypoint) -> None:
    done, args, env = entrypoint()
    assert done.returncode == 0, done.stderr
    assert "--test-enable-new-auth" not in args
    assert not any(key.startswith("FERRETDB_SETUP") for key in env)
    assert "--telemetry=disable" in args


def test_a_user_without_a_password_fails(entrypoint) -> None:
    done, _, _ = entrypoint(MONGO_INITDB_ROOT_USERNAME="root")
    assert done.returncode == 1
    assert "MONGO_INITDB_ROOT_USERNAME needs MONGO_INITDB_ROOT_PASSWORD_FILE" in done.stderr


def model(**overrides) -> dict:
    """The app model of a small app with the given data store settings."""
    return app_model.app_model({
        "name": "shop", "namespace": "shop", "common_env": {"MONGODB_USERNAME": "root"},
        "mongodb": DEFAULTS["slipway_app_mongodb"], "redis": DEFAULTS["slipway_app_redis"],
        "components": [{"name": "web", "image": "web:1", "port": 8080}], **overrides})


def test_data_store_probes_work_with_the_real_images_and_the_stand_ins() -> None:
    stores = {o["metadata"]["name"]: o for o in app_manifests.datastore_objects(model()) if o["kind"] == "StatefulSet"}
    mongodb = stores["mongodb"]["spec"]["template"]["spec"]["containers"][0]
    redis = stores["redis"]["spec"]["template"]["spec"]["containers"][0]
    for kind in ("livenessProbe", "readinessProbe"):
        assert mongodb[kind]["tcpSocket"] == {"port": 27017}
        assert "exec" not in mongodb[kind] and "httpGet" not in mongodb[kind]
        assert redis[kind]["exec"] == {"command": ["redis-cli", "ping"]}


def test_a_tcp_probe_takes_its_own_port() -> None:
    def readiness(probe: dict) -> dict:
        web = model(components=[{"name": "web", "image": "web:1", "port": 8080, "probes": {"readiness": probe}}])
        return app_manifests.component_objects(web, {"web": "web:1"}, {})[0]["spec"]["template"]["spec"][
            "containers"][0]["readinessProbe"]

    assert readiness({"tcp_socket": True})["tcpSocket"] == {"port": 8080}
    assert readiness({"tcp_socket": True, "port": 9000})["tcpSocket"] == {"port": 9000}
    assert readiness({"path": "/ready"})["httpGet"] == {"path": "/ready", "port": 8080}


# The sandbox's images of each data store: its own and, for MongoDB, the dump Jobs' tools.
SANDBOX_IMAGES = {"slipway_app_mongodb": {"image": "ferretdb", "tools_image": "mongo-tools"},
                  "slipway_app_redis": {"image": "redis"}}


@pytest.mark.parametrize("store", sorted(SANDBOX_IMAGES))
def test_the_sandbox_changes_only_the_data_stores_images_and_cpu_requests(store: str) -> None:
    # The inventory's dict replaces the role's default as a whole.
    images = SANDBOX_IMAGES[store]

    def kept(settings: dict) -> dict:
        kept = {k: copy.deepcopy(v) for k, v in settings.items() if k not in images}
        del kept["resources"]["requests"]["cpu"]
        return kept

    assert kept(SANDBOX[store]) == kept(DEFAULTS[store])
    # The stand-ins idle at a few millicores; the node's two CPUs hold three test apps at once.
    assert SANDBOX[store]["resources"]["requests"]["cpu"] != DEFAULTS[store]["resources"]["requests"]["cpu"]
    assert set(images) <= set(SANDBOX[store])
    for key, recipe in images.items():
        assert f"lookup('sandbox_path', 'make-image.sh') ~ ' {recipe} --print-tag'" in SANDBOX[store][key]


def test_elsewhere_the_dump_jobs_run_the_mongodb_image_itself() -> None:
    assert DEFAULTS["slipway_app_mongodb"]["tools_image"] == ""
    sandbox_cluster = yaml.safe_load((REPO / "roles" / "sandbox_cluster" / "defaults" / "main.yml").read_text())
    made = set(sandbox_cluster["sandbox_cluster_images"])
    # Every image the sandbox runs; the execution environment's base is ee/build.sh's to make.
    assert made == set(RECIPES) - {"ee-base"}
    assert {recipe for images in SANDBOX_IMAGES.values() for recipe in images.values()} <= made


def render_dump_job(mongodb: dict) -> dict:
    return app_manifests.dump_job(model(mongodb=mongodb), "backup", "mongodb-backup-x",
                                  "mongodb-20261127-030000.archive.gz", "mongodb-backup", 7, 600, 86400)


@pytest.mark.parametrize(("mongodb", "image"), [
    (DEFAULTS["slipway_app_mongodb"], "mongo:6.0.6"),
    ({"image": "mongo:7.0"}, "mongo:7.0"),  # a dict of the user's own, without the key
    ({**DEFAULTS["slipway_app_mongodb"], "image": "slipway/ferretdb:x", "tools_image": "slipway/mongo-tools:y"},
     "slipway/mongo-tools:y"),
])
def test_the_dump_jobs_image(mongodb: dict, image: str) -> None:
    pod = render_dump_job(mongodb)["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == image
    # The tools image runs as the Job's user, with a read-only root.
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
