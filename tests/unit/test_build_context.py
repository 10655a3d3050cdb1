"""The build digest changes exactly when what `docker build` would use changes."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from ansible.module_utils.build_context import build_digest


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY . /app\n")
    (tmp_path / "app.py").write_text("print('hello')\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("not in the image\n")
    (tmp_path / ".dockerignore").write_text("# kept out of the image\ndocs\n**/*.pyc\n")
    return tmp_path


def digest(context: Path, **options) -> str:
    return build_digest(str(context), **options)["digest"]


def test_same_source_same_digest(context: Path) -> None:
    assert digest(context) == digest(context)


def test_a_changed_file_changes_the_digest(context: Path) -> None:
    before = digest(context)
    (context / "app.py").write_text("print('changed')\n")
    assert digest(context) != before


def test_an_added_file_changes_the_digest(context: Path) -> None:
    before = digest(context)
    (context / "extra.py").write_text("")
    assert digest(context) != before


def test_the_executable_bit_changes_the_digest(context: Path) -> None:
    before = digest(context)
    os.chmod(context / "app.py", 0o755)
    assert digest(context) != before


def test_files_the_dockerignore_excludes_do_not_count(context: Path) -> None:
    before = digest(context)
    (context / "docs" / "notes.md").write_text("edited\n")
    (context / "cache.pyc").write_bytes(b"\0")
    assert digest(context) == before
    assert build_digest(str(context))["file_count"] == 3  # Dockerfile, .dockerignore, app.py


def test_target_and_build_args_change_the_digest(context: Path) -> None:
    plain = digest(context)
    assert digest(context, target="backend") != plain
    with_base = digest(context, build_args={"BASE_IMAGE": "python:3.11"})
    assert with_base != plain
    assert digest(context, build_args={"BASE_IMAGE": "python:3.12"}) != with_base


def test_build_args_order_does_not_matter(context: Path) -> None:
    assert digest(context, build_args={"A": "1", "B": "2"}) == digest(context, build_args={"B": "2", "A": "1"})


def test_every_bad_image_entry_is_named_at_once(context: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_context_digest", Path(__file__).resolve().parents[2] / "plugins" / "modules" / "build_context_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.problems([{"name": "web", "context": str(context)}]) == []
    assert module.problems([
        {"name": "web", "context": str(context)},
        {"name": "web", "context": str(context), "dockerfile": "Missing.Dockerfile"},
        {"name": "api", "context": str(context / "nowhere")},
        {"context": str(context)},
    ]) == [
        "image 1 (web): the name is used twice",
        f"image 1 (web): Dockerfile {context}/Missing.Dockerfile does not exist",
        f"image 2 (api): build context {context}/nowhere is not a folder",
        "image 3 needs a name and a context",
    ]
