# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters deciding which image tags to keep."""

from __future__ import annotations



def split_reference(reference: str) -> tuple[str, str]:
    """`registry:5000/team/app:tag` -> (`registry:5000/team/app`, `tag`)."""
    repository, _, tag = reference.rpartition(":")
    if "/" in tag or not repository:
        return reference, ""
    return repository, tag


def stale_image_tags(images: list[dict], current: list[str], keep: int) -> list[str]:
    """The tags to remove: per repository of `current`, those beyond the newest `keep`.

    `images` are as community.docker.docker_host_info lists them (RepoTags, Created); a
    reference in `current` always stays, whatever its age, and counts among those kept even
    when the listing was taken before it was built.
    """
    if int(keep) < 1:
        raise ValueError("keep must be at least 1: the image just built always stays")
    current_set = set(current)
    newest_first = sorted(images, key=lambda image: image.get("Created") or 0, reverse=True)
    stale: list[str] = []
    for repository in dict.fromkeys(split_reference(reference)[0] for reference in current):
        tags = [
            tag
            for image in newest_first
            for tag in image.get("RepoTags") or []
            if split_reference(tag)[0] == repository
        ]
        kept = [reference for reference in current_set if split_reference(reference)[0] == repository]
        for tag in tags:
            if tag in current_set:
                continue
            if len(kept) < int(keep):
                kept.append(tag)
            else:
                stale.append(tag)
    return stale


def unbuilt_images(references: dict[str, str], images: list[dict]) -> list[str]:
    """The names in `references` (name -> image reference) whose reference no image has yet:
    the ones to build. `images` are as community.docker.docker_host_info lists them."""
    existing = {tag for image in images for tag in image.get("RepoTags") or []}
    return [name for name, reference in references.items() if reference not in existing]


class FilterModule:
    def filters(self):
        return {"stale_image_tags": stale_image_tags, "unbuilt_images": unbuilt_images}
