"""The AWX execution environment and the collection pins install what the tests run with.

tests/integration/test_execution_environment.py builds the image and reads the versions back.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import ansible_collections
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
PINNED = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.startswith("#"))
# What the image's Python has from requirements.txt: the collections' package and the clients.
EE_PACKAGES = ("ansible-core", "ansible-runner", "ansible", "kubernetes", "docker")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build context `ansible-builder create` writes (the wheels folder may be empty)."""
    context = tmp_path_factory.mktemp("context")
    (ROOT / "ee" / "wheels").mkdir(exist_ok=True)
    builder = Path(sys.executable).parent / "ansible-builder"
    created = subprocess.run([str(builder), "create", "-f", str(ROOT / "execution-environment.yml"),
                              "-c", str(context), "--output-filename", "Dockerfile"],
                             cwd=ROOT, capture_output=True, text=True)
    assert created.returncode == 0, created.stdout + created.stderr
    return context


def stages(dockerfile: str) -> dict[str, str]:
    """Each build stage's text by its name (FROM ... AS name)."""
    parts = re.split(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_ansible_builder_renders_the_build_context(rendered: Path) -> None:
    dockerfile = (rendered / "Dockerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in dockerfile
    assert 'ARG PKGMGR="/usr/bin/dnf"' in dockerfile
    assert (rendered / "_build" / "requirements.txt").read_text().split() == DEFINITION["dependencies"]["python"]
    # The collections come with the `ansible` package: no Galaxy stage, nothing fetched from Galaxy.
    assert "ansible-galaxy collection install" not in dockerfile


def test_every_stage_that_runs_pip_reads_only_the_fetched_wheels(rendered: Path) -> None:
    found = stages((rendered / "Dockerfile").read_text())
    assert {"base", "builder", "final"} <= set(found)
    for name, text in found.items():
        # The stage's own pip, or the scripts that call it (pip_install, assemble, install-from-bindep).
        if re.search(r"pip install|/output/scripts/(pip_install|assemble|install-from-bindep)", text):
            assert "ARG PIP_NO_INDEX=1" in text, name
            assert "ARG PIP_FIND_LINKS=/opt/slipway-ee/wheels" in text, name
    assert "COPY _build/wheels/ /opt/slipway-ee/wheels/" in found["base"]


def test_the_environment_pins_what_the_tests_run_with() -> None:
    dependencies = DEFINITION["dependencies"]
    pins = dict(p.split("==") for p in dependencies["python"])
    assert pins == {name: PINNED[name] for name in pins}
    assert set(pins) | {"ansible-core", "ansible-runner"} == set(EE_PACKAGES)
    assert dependencies["ansible_core"]["package_pip"] == f"ansible-core=={PINNED['ansible-core']}"
    assert dependencies["ansible_runner"]["package_pip"] == f"ansible-runner=={PINNED['ansible-runner']}"


def test_collection_pins_are_the_versions_the_ansible_package_bundles() -> None:
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    installed = Path(ansible_collections.__path__[0])
    for collection in wanted:
        namespace, name = collection["name"].split(".")
        manifest = json.loads((installed / namespace / name / "MANIFEST.json").read_text())
        assert collection["version"] == manifest["collection_info"]["version"], collection["name"]
