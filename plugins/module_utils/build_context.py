# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A content digest of a Docker build: what `docker build` would send, and how it is built.

Two builds with the same digest produce the same image, so the digest is a tag that changes
exactly when a rebuild (and a rollout) is due.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

DIGEST_ALGORITHM = "sha256"


def dockerignore_patterns(context: str) -> list[str]:
    """The context's .dockerignore patterns, as docker reads them (comments and blanks dropped)."""
    path = os.path.join(context, ".dockerignore")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        lines = (line.strip() for line in handle)
        return [line for line in lines if line and not line.startswith("#")]


def context_files(context: str, dockerfile: str) -> list[str]:
    """The regular files and symlinks `docker build` sends, relative to the context, sorted."""
    from docker.utils.build import exclude_paths  # the docker SDK's own .dockerignore matcher

    kept = exclude_paths(context, dockerignore_patterns(context), dockerfile=dockerfile)
    return sorted(
        path for path in kept
        if not os.path.isdir(os.path.join(context, path)) or os.path.islink(os.path.join(context, path))
    )


def file_fingerprint(path: str) -> str:
    """Content and the executable bit (what changes a layer); a symlink by its target."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "link:" + os.readlink(path)
    digest = hashlib.new(DIGEST_ALGORITHM)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    executable = "x" if info.st_mode & stat.S_IXUSR else "-"
    return f"{executable}:{digest.hexdigest()}"


def build_digest(context: str, dockerfile: str = "Dockerfile", target: str | None = None,
                 build_args: dict[str, str] | None = None) -> dict:
    """Digest of the context's files, the Dockerfile, the target and the build arguments."""
    files = context_files(context, dockerfile)
    recipe = {
        "dockerfile": dockerfile,
        "target": target or "",
        "build_args": {str(k): str(v) for k, v in sorted((build_args or {}).items())},
        "files": {path: file_fingerprint(os.path.join(context, path)) for path in files},
    }
    encoded = json.dumps(recipe, sort_keys=True, separators=(",", ":")).encode()
    return {
        "digest": f"{DIGEST_ALGORITHM}:{hashlib.new(DIGEST_ALGORITHM, encoded).hexdigest()}",
        "file_count": len(files),
    }
