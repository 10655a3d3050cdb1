"""The image_build role on the sandbox's Docker engine: tags follow the source, builds happen
only when it changed, old tags are pruned, and check mode builds nothing."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from playbook import run_playbook

PLAYBOOK = "tests/integration/playbooks/image_build.yml"


@pytest.fixture
def repository() -> str:
    name = f"slipway-test/build-{uuid.uuid4().hex[:8]}"
    yield name
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", name],
                            check=True, capture_output=True, text=True).stdout.split()
    if listed:
        subprocess.run(["docker", "image", "rm", *listed], check=True, capture_output=True)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nARG FLAVOUR\nLABEL flavour=${FLAVOUR}\nCOPY app.txt /app.txt\n")
    (tmp_path / "app.txt").write_text("version 1\n")
    (tmp_path / ".dockerignore").write_text("notes.md\n")
    (tmp_path / "notes.md").write_text("not part of the image\n")
    return tmp_path


def tags(repository: str) -> set[str]:
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository],
                            check=True, capture_output=True, text=True)
    return set(listed.stdout.split())


def build(context: Path, repository: str, *options: str, keep: int = 3, flavour: str = "plain"):
    return run_playbook(PLAYBOOK, {
        "image_build_images": [{"name": "app", "context": str(context), "repository": repository,
                                "build_args": {"FLAVOUR": flavour}}],
        "image_build_keep": keep,
    }, *options)


def test_unchanged_source_is_not_rebuilt(context: Path, repository: str) -> None:
    first = build(context, repository)
    assert first.returncode == 0, first.stderr
    reference = first.fact("image_build_refs")["app"]
    assert reference.startswith(f"{repository}:") and tags(repository) == {reference}
    assert first.results("Build each image whose tag does not exist")[0]["changed"] is True

    second = build(context, repository)
    assert second.returncode == 0 and second.changed == 0
    assert second.fact("image_build_refs")["app"] == reference
    # Decided from the one image listing: no build call at all for an existing tag.
    assert not second.results("Build each image whose tag does not exist")


def test_ignored_files_do_not_change_the_tag(context: Path, repository: str) -> None:
    reference = build(context, repository).fact("image_build_refs")["app"]
    (context / "notes.md").write_text("edited\n")
    again = build(context, repository)
    assert again.changed == 0 and again.fact("image_build_refs")["app"] == reference


def test_changed_source_or_build_args_give_a_new_tag(context: Path, repository: str) -> None:
    first = build(context, repository).fact("image_build_refs")["app"]
    (context / "app.txt").write_text("version 2\n")
    second = build(context, repository)
    assert second.changed > 0
    assert second.fact("image_build_refs")["app"] != first
    third = build(context, repository, flavour="spicy").fact("image_build_refs")["app"]
    assert third not in (first, second.fact("image_build_refs")["app"])
    label = subprocess.run(["docker", "image", "inspect", "--format", "{{ .Config.Labels.flavour }}", third],
                           check=True, capture_output=True, text=True).stdout.strip()
    assert label == "spicy"


def test_old_tags_beyond_keep_are_removed(context: Path, repository: str) -> None:
    built = []
    for version in range(3):
        (context / "app.txt").write_text(f"version {version}\n")
        built.append(build(context, repository, keep=2).fact("image_build_refs")["app"])
    assert tags(repository) == set(built[1:])


def test_check_mode_builds_nothing(context: Path, repository: str) -> None:
    checked = build(context, repository, "--check")
    assert checked.returncode == 0, checked.stderr
    assert checked.results("Build each image whose tag does not exist")[0]["changed"] is True
    assert tags(repository) == set()


def test_a_broken_dockerfile_fails_with_the_builds_own_error(context: Path, repository: str) -> None:
    (context / "Dockerfile").write_text("FROM scratch\nCOPY missing-file.txt /\n")
    failed = build(context, repository)
    assert failed.returncode != 0
    result = failed.results("Build each image whose tag does not exist")[0]
    assert result["failed"] is True
    assert "COPY failed: file not found in build context" in result["msg"]
    assert "Step 2/2 : COPY missing-file.txt /" in result["msg"]
    assert tags(repository) == set()
