"""Which old image tags are pruned."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "image_tags", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "image_tags.py"
)
image_tags = importlib.util.module_from_spec(spec)
spec.loader.exec_module(image_tags)
stale_image_tags = image_tags.stale_image_tags

IMAGES = [
    {"RepoTags": ["slipway/backend:a"], "Created": 100},
    {"RepoTags": ["slipway/backend:b"], "Created": 200},
    {"RepoTags": ["slipway/backend:c", "slipway/backend:c2"], "Created": 300},
    {"RepoTags": ["slipway/backend:d"], "Created": 400},
    {"RepoTags": ["slipway/frontend:a"], "Created": 50},
    {"RepoTags": ["registry.local:5000/slipway/backend:z"], "Created": 10},
    {"RepoTags": [], "Created": 500},
]


def test_keeps_the_newest_per_repository() -> None:
    assert stale_image_tags(IMAGES, ["slipway/backend:d"], 3) == ["slipway/backend:b", "slipway/backend:a"]


def test_the_current_tag_stays_even_when_it_is_old() -> None:
    stale = stale_image_tags(IMAGES, ["slipway/backend:a"], 2)
    assert "slipway/backend:a" not in stale
    assert stale == ["slipway/backend:c", "slipway/backend:c2", "slipway/backend:b"]


def test_a_current_tag_missing_from_the_listing_counts_as_kept() -> None:
    # The listing is taken before the build: the image just built is not in it yet.
    assert stale_image_tags(IMAGES, ["slipway/backend:new"], 3) == ["slipway/backend:c2", "slipway/backend:b", "slipway/backend:a"]


def test_only_the_references_no_image_has_are_built() -> None:
    references = {"backend": "slipway/backend:c2", "frontend": "slipway/frontend:b", "worker": "slipway/backend:d"}
    assert image_tags.unbuilt_images(references, IMAGES) == ["frontend"]
    assert image_tags.unbuilt_images(references, []) == ["backend", "frontend", "worker"]


def test_other_repositories_are_left_alone() -> None:
    stale = stale_image_tags(IMAGES, ["slipway/backend:d"], 1)
    assert not any(tag.startswith(("slipway/frontend", "registry.local")) for tag in stale)


def test_a_registry_port_is_not_taken_for_a_tag() -> None:
    assert image_tags.split_reference("registry.local:5000/slipway/backend") == ("registry.local:5000/slipway/backend", "")
    assert image_tags.split_reference("registry.local:5000/slipway/backend:z") == ("registry.local:5000/slipway/backend", "z")


def test_keep_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        stale_image_tags(IMAGES, ["slipway/backend:d"], 0)
