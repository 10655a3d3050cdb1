"""The AWX execution environment and the collection pins install what the tests run with.

tests/integration/test_ee_jobs.py builds the image and reads the versions back.
"""

from __future__ import annotations

import configparser
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
    # The definition copies it into the context; ee/build.sh fills it (it is not in git).
    (ROOT / "ee" / "wheels").mkdir(exist_ok=True)
    builder = Path(sys.executable).parent / "ansible-builder"
    created = subprocess.run([str(builder), "create", "-f", str(ROOT / "execution-environment.yml"),
                              "-c", str(context), "--output-filename", "Dockerfile"],
                             cwd=ROOT, capture_output=True, text=True)
    assert created.returncode == 0, created.stdout + created.stderr
    return context


def stages(dockerfile: str) -> dict[str, list[str]]:
    """Each build stage's instructions by its name (FROM PARENT AS name), the FROM line first."""
    found: dict[str, list[str]] = {}
    for line in dockerfile.splitlines():
        named = re.fullmatch(r"FROM \S+ AS (\w+)", line)
        if named:
            found[named.group(1)] = []
        if found and line.strip() and not line.startswith("#"):
            found[list(found)[-1]].append(line)
    return found


def runs_pip(line: str) -> bool:
    """A step that runs pip: its own, or through the scripts that do (pip_install, assemble,
    install-from-bindep)."""
    return line.startswith("RUN") and bool(
        re.search(r"pip install|/output/scripts/(pip_install|assemble|install-from-bindep)", line))


def test_ansible_builder_renders_the_build_context(rendered: Path) -> None:
    dockerfile = (rendered / "Dockerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in dockerfile
    assert 'ARG PKGMGR="/usr/bin/dnf"' in dockerfile
    assert (rendered / "_build" / "requirements.txt").read_text().split() == DEFINITION["dependencies"]["python"]
    # The collections come with the `ansible` package: no Galaxy stage, nothing fetched from Galaxy.
    assert "ansible-galaxy collection install" not in dockerfile


def test_every_pip_install_reads_only_the_fetched_wheels(rendered: Path) -> None:
    found = stages((rendered / "Dockerfile").read_text())
    config = configparser.ConfigParser()
    config.read_string((ROOT / "ee" / "pip.conf").read_text())
    assert config["global"]["no-index"] == "true"
    wheels = config["global"]["find-links"]
    base = found["base"]
    assert base.index(f"COPY _build/wheels/ {wheels}/") < base.index("COPY _build/configs/pip.conf /etc/pip.conf")
    assert base.index("COPY _build/configs/pip.conf /etc/pip.conf") < min(
        i for i, line in enumerate(base) if runs_pip(line))
    # The stages that install start from base, whose /etc/pip.conf they inherit.
    for name, lines in found.items():
        if any(runs_pip(line) for line in lines):
            assert name == "base" or lines[0] == f"FROM base AS {name}", name
    # Removed once the last install is done, so a job's own pip reaches its index.
    final = found["final"]
    removed = final.index(f"RUN rm -rf /etc/pip.conf {Path(wheels).parent}")
    assert removed > max(i for i, line in enumerate(final) if runs_pip(line))


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
