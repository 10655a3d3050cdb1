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
    reference in `current` (just built) always stays, whatever its age.
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
        kept = [tag for tag in tags if tag in current_set]
        for tag in tags:
            if tag in current_set:
                continue
            if len(kept) < int(keep):
                kept.append(tag)
            else:
                stale.append(tag)
    return stale


class FilterModule:
    def filters(self):
        return {"stale_image_tags": stale_image_tags}
