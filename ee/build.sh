#!/usr/bin/env bash
# Builds slipway's execution environment (execution-environment.yml) with ansible-builder on the
# Docker engine named by $DOCKER_HOST, with nothing pulled and no network inside the build:
#   1. the Python packages the build installs are written to ee/requirements.txt: the
#      definition's (ansible-core, ansible-runner, its python list) and ansible-builder's own
#      tools, read from the Dockerfile that `ansible-builder create` generates (bindep, pyyaml,
#      packaging, dumb-init), so a new ansible-builder brings its own list;
#   2. ee/fetch-wheels.sh (app/fetch-wheels.sh, the same script: it fetches the requirements.txt
#      beside it into wheels/ beside it) downloads their wheels for CPython 3.11 on the host;
#   3. sandbox/make-image.sh ee-base makes the Debian base (sandbox/images/ee-base);
#   4. ansible-builder build, with EE_BASE_IMAGE, PKGMGR and PYCMD for that base.
# The tag is a digest of every input: the generated build context (the definition,
# ansible-builder's scripts), the wheels, the base image's tag and this script; a re-run with
# unchanged inputs finds the image and builds nothing.
# Usage: ee/build.sh [--print-tag]   (prints the image tag as its last line; --print-tag only
#        computes it, building nothing, though it fetches the wheels if they are missing)
# Env:   DOCKER_HOST (the engine to build on), PYTHON (whose pip downloads, default python3),
#        ANSIBLE_BUILDER (default: the repository's .venv, else the one on PATH), SLIPWAY_CACHE.
set -euo pipefail

die() { echo "ee/build: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
builder=${ANSIBLE_BUILDER:-$repo/.venv/bin/ansible-builder}
[ -x "$builder" ] || builder=$(command -v ansible-builder) ||
	die "ansible-builder not found; set ANSIBLE_BUILDER or make venv"
definition="$repo/execution-environment.yml"
context=${SLIPWAY_CACHE:-$HOME/.cache/slipway}/ee/context
# The Debian base (see its recipe): the package manager the generated steps call on it, and its
# venv's Python.
build_args=(--build-arg "PKGMGR=/usr/bin/apt-get" --build-arg "PYCMD=/opt/venv/bin/python3.11")

# One build at a time: they share the context, ee/requirements.txt and ee/wheels.
mkdir -p "$(dirname "$context")"
exec 9>"$context.lock"
flock 9
# The definition copies ee/wheels into the context: it must exist before the first fetch.
mkdir -p "$here/wheels"
"$builder" create -f "$definition" -c "$context" --output-filename Dockerfile >/dev/null ||
	die "ansible-builder create failed"
dockerfile="$context/Dockerfile"
install_refs=$(sed -nE 's/^ARG ANSIBLE_INSTALL_REFS="(.*)"$/\1/p' "$dockerfile")
[ -n "$install_refs" ] || die "no ANSIBLE_INSTALL_REFS in $dockerfile"
# The packages ansible-builder's own steps install (RUN $PYCMD -m pip install --no-cache-dir ...).
# shellcheck disable=SC2016  # $PYCMD is the Dockerfile's text, matched literally
tools=$(sed -nE 's/^RUN \$PYCMD -m pip install --no-cache-dir (.*)$/\1/p' "$dockerfile" |
	tr ' ' '\n' | tr -d "'" | grep -v '^\$' || true)
[ -n "$tools" ] || die "found none of ansible-builder's pip installs in $dockerfile"
{
	echo "# Written by ee/build.sh from execution-environment.yml and ansible-builder's Dockerfile."
	tr ' ' '\n' <<<"$install_refs"
	# awk 1: the generated file has no final newline.
	awk 1 "$context/_build/requirements.txt"
	echo "$tools"
} >"$here/requirements.txt"
wheels=$(PYTHON=${PYTHON:-python3} "$here/fetch-wheels.sh" | tail -n 1)

base=$("$repo/sandbox/make-image.sh" ee-base --print-tag)
code() { grep -Ev '^[[:space:]]*(#|$)' "$1"; }
digest=$({
	code "${BASH_SOURCE[0]}"
	echo "$base ${build_args[*]}"
	# The generated context, less the wheels the create step copied (maybe before this fetch).
	(cd "$context" && find . -path ./_build/wheels -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
	(cd "$wheels" && find . -name '*.whl' -print0 | sort -z | xargs -0 sha256sum)
} | sha256sum | cut -c1-12)
tag="slipway-ee:$digest"
if [ "${1:-}" = --print-tag ]; then
	echo "$tag"
	exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [--print-tag]"

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "cannot reach the Docker daemon at ${DOCKER_HOST:-the default socket}"
if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "$tag"
	exit 0
fi
base=$("$repo/sandbox/make-image.sh" ee-base | tail -n 1)
echo "ee/build: building $tag from $base (log: $context.log)" >&2
if ! "$builder" build -f "$definition" -c "$context" --container-runtime docker -t "$tag" \
	--build-arg "EE_BASE_IMAGE=$base" "${build_args[@]}" -v 3 >"$context.log" 2>&1; then
	tail -n 30 "$context.log" >&2
	die "ansible-builder build failed (full log: $context.log)"
fi
# Earlier builds' images: each is a full copy per layer on a vfs engine, and only this one is
# what the inputs now describe.
docker image ls --format '{{.Repository}}:{{.Tag}}' slipway-ee | grep -vxF "$tag" | xargs -r docker image rm >/dev/null || true
echo "ee/build: built $tag" >&2
echo "$tag"
