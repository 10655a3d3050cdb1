"""The minikube role's install path, through real ansible-playbook, against a local HTTP server
that serves a FAKE minikube release (a shell script that prints its version) and its .sha256 file.

minikube itself cannot run here (no VM, no image registry): starting a profile, addons and
docker-env are covered by the unit tests of their decisions (tests/unit/test_minikube_filters.py)
on output shaped like minikube's, not by running minikube.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import platform
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from playbook import run_playbook

PLAYBOOK = "tests/integration/playbooks/minikube_install.yml"
OS = {"Linux": "linux", "Darwin": "darwin"}[platform.system()]
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
ASSET = f"minikube-{OS}-{ARCH}"


class Release:
    """A folder served over HTTP on 127.0.0.1, laid out as minikube's release downloads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        handler = partial(_Handler, self.requests, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/releases"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, version: str, checksum: str | None = None) -> str:
        """Put a fake minikube `version` and its .sha256 file (or a wrong `checksum`) online."""
        folder = self.root / "releases" / version
        folder.mkdir(parents=True, exist_ok=True)
        script = (
            "#!/bin/sh\n"
            "# A stand-in for minikube in tests: it only knows its version.\n"
            'case "$1 $2" in\n'
            f'  "version --short") echo "{version}" ;;\n'
            f'  "version "*) echo "minikube version: {version}"; echo "commit: 0000000" ;;\n'
            '  *) echo "fake minikube: $*" >&2; exit 64 ;;\n'
            "esac\n"
        ).encode()
        (folder / ASSET).write_bytes(script)
        digest = hashlib.sha256(script).hexdigest()
        (folder / f"{ASSET}.sha256").write_text(f"{checksum or digest}\n")
        return digest

    def gets(self) -> list[str]:
        return list(self.requests)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, requests: list[str], *args, **kwargs) -> None:
        self._requests = requests
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        self._requests.append(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}".strip())


@pytest.fixture
def release(tmp_path: Path) -> Iterator[Release]:
    served = Release(tmp_path / "www")
    served.thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "bin"


def install(release: Release, bin_dir: Path, version: str, **extra):
    return run_playbook(PLAYBOOK, {"minikube_download_url": release.url, "minikube_version": version,
                                   "minikube_bin_dir": str(bin_dir), **extra})


def test_first_run_installs_and_second_run_downloads_nothing(release: Release, bin_dir: Path) -> None:
    release.publish("v1.99.0")
    first = install(release, bin_dir, "v1.99.0")
    assert first.returncode == 0, first.stderr
    assert first.changed > 0
    assert first.results("Install the verified binary")[0]["changed"] is True
    installed = bin_dir / "minikube"
    assert os.access(installed, os.X_OK)
    assert installed.read_bytes() == (release.root / "releases" / "v1.99.0" / ASSET).read_bytes()
    assert release.gets() == [
        f"GET /releases/v1.99.0/{ASSET}.sha256 200",
        f"GET /releases/v1.99.0/{ASSET} 200",
    ]

    second = install(release, bin_dir, "v1.99.0")
    assert second.returncode == 0, second.stderr
    assert second.changed == 0
    assert len(release.gets()) == 2, f"the second run downloaded: {release.gets()[2:]}"
    assert second.results("Download the release binary and check its SHA-256")[0]["skipped"] is True


def test_another_version_is_downloaded_over_the_installed_one(release: Release, bin_dir: Path) -> None:
    release.publish("v1.99.0")
    release.publish("v1.99.1")
    assert install(release, bin_dir, "v1.99.0").returncode == 0
    upgrade = install(release, bin_dir, "v1.99.1")
    assert upgrade.returncode == 0, upgrade.stderr
    assert upgrade.results("Install the verified binary")[0]["changed"] is True
    assert b"v1.99.1" in (bin_dir / "minikube").read_bytes()


def test_bad_checksum_fails_and_installs_nothing(release: Release, bin_dir: Path) -> None:
    release.publish("v1.99.0", checksum="0" * 64)
    run = install(release, bin_dir, "v1.99.0")
    assert run.returncode != 0
    failure = run.results("Download the release binary and check its SHA-256")[0]
    assert failure["failed"] is True and "checksum" in failure["msg"].lower(), failure["msg"]
    assert not bin_dir.exists() or not any(bin_dir.iterdir())
    assert run.results("Remove the download folder")[0]["changed"] is True
    assert run.results("Install the verified binary") == []


def test_pinned_checksum_is_used_instead_of_the_published_file(release: Release, bin_dir: Path) -> None:
    digest = release.publish("v1.99.0")
    wrong = install(release, bin_dir, "v1.99.0", minikube_checksums={f"{OS}-{ARCH}": "f" * 64})
    assert wrong.returncode != 0
    assert not bin_dir.exists() or not any(bin_dir.iterdir())
    assert not any(get.endswith(".sha256 200") for get in release.gets())

    pinned = install(release, bin_dir, "v1.99.0", minikube_checksums={f"{OS}-{ARCH}": digest})
    assert pinned.returncode == 0, pinned.stderr
    assert (bin_dir / "minikube").exists()
