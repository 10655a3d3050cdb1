#!/usr/bin/env bash
# Downloads the demo app's pinned dependencies as wheels into app/wheels/: the image
# build installs from there only, since builds have no network. A re-run with the
# same requirements and target does nothing, and needs no network.
# Usage: app/fetch-wheels.sh   (prints the wheels folder as its last line)
# Env:   PYTHON (default python3): whose pip downloads;
#        WHEELS_ARCH (default: this machine's): the images' CPU architecture.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wheels="$here/wheels"
python=${PYTHON:-python3}
arch=${WHEELS_ARCH:-$(uname -m)}

die() { echo "fetch-wheels: $*" >&2; exit 1; }

# CPython 3.11 on glibc Linux: the interpreter of both base images the Dockerfile
# knows (Debian bookworm's python3 and python:3.11-slim-bookworm).
target=(--only-binary=:all: --implementation cp --python-version 3.11 --abi cp311
	--platform "manylinux2014_$arch" --platform "manylinux_2_17_$arch")
stamp=".fetched-$( { cat "$here/requirements.txt"; echo "${target[*]}"; } | sha256sum | cut -c1-12)"
if [ -f "$wheels/$stamp" ]; then
	echo "$wheels"
	exit 0
fi

"$python" -m pip --version >/dev/null 2>&1 || die "'$python -m pip' does not work; install pip (apt-get install python3-pip)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-wheels: downloading $(grep -c '^[a-zA-Z]' "$here/requirements.txt") pinned packages for cp311 $arch" >&2
"$python" -m pip download --quiet --disable-pip-version-check --dest "$tmp" \
	--requirement "$here/requirements.txt" "${target[@]}" ||
	die "pip download failed; is PyPI (or your index) reachable?"
touch "$tmp/$stamp"
chmod 755 "$tmp"
# Replaced whole, so wheels of versions no longer pinned do not linger in the build context.
rm -rf "$wheels"
mv "$tmp" "$wheels"
trap - EXIT
echo "$wheels"
