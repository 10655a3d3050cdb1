"""The AWX execution environment and the collection pins install what the tests run with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ansible_collections
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
PINNED = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.startswith("#"))


def test_ansible_builder_renders_the_build_context(tmp_path: Path) -> None:
    builder = Path(sys.executable).parent / "ansible-builder"
    created = subprocess.run([str(builder), "create", "-f", str(ROOT / "execution-environment.yml"),
                              "-c", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert created.returncode == 0, created.stdout + created.stderr
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in (tmp_path / "Dockerfile").read_text()
    build = tmp_path / "_build"
    assert yaml.safe_load((build / "requirements.yml").read_text()) == yaml.safe_load(
        (ROOT / "collections" / "requirements.yml").read_text())
    assert (build / "requirements.txt").read_text().split() == DEFINITION["dependencies"]["python"]


def test_the_environment_pins_what_the_tests_run_with() -> None:
    dependencies = DEFINITION["dependencies"]
    pins = dict(p.split("==") for p in dependencies["python"])
    assert pins == {name: PINNED[name] for name in pins}
    assert dependencies["ansible_core"]["package_pip"] == f"ansible-core=={PINNED['ansible-core']}"


def test_collection_pins_are_the_versions_the_ansible_package_bundles() -> None:
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    installed = Path(ansible_collections.__path__[0])
    for collection in wanted:
        namespace, name = collection["name"].split(".")
        manifest = json.loads((installed / namespace / name / "MANIFEST.json").read_text())
        assert collection["version"] == manifest["collection_info"]["version"], collection["name"]
