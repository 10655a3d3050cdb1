#!/usr/bin/env bash
# Makes the demo app's base image without any container registry: a Debian minbase
# root filesystem from the Debian mirror, imported into the Docker daemon named by
# $DOCKER_HOST. The tag is a hash of this script's code (comments aside), which holds
# everything that decides the image's content, so changing the recipe makes a new tag
# beside the old one (and a new cached root filesystem), and a re-run finds its image.
# Usage: sandbox/base-image.sh [--print-tag]   (prints the image tag as its last line;
#        --print-tag only prints it, making nothing)
# Env:   SLIPWAY_CACHE (default ~/.cache/slipway), DEBIAN_MIRROR (default: the host's
#        apt source for the suite, else deb.debian.org)
set -euo pipefail

suite=bookworm
variant=minbase
# python3-venv brings ensurepip, which the app's Dockerfile uses to install its wheels.
packages=python3,python3-venv
changes=(
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	"ENV LANG=C.UTF-8"
	'CMD ["python3"]'
)
# Only needed to install packages or read about them, not to run; the copyright
# files stay, as the licences of what the image ships ask.
prune_dirs=(var/cache/apt/archives var/lib/apt/lists usr/share/man usr/share/info usr/share/locale)
repo=slipway/python-base

die() { echo "base-image: $*" >&2; exit 1; }

tag="$repo:$suite-$(grep -Ev '^[[:space:]]*(#|$)' "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
if [ "${1:-}" = --print-tag ]; then
	echo "$tag"
	exit 0
fi

command -v docker >/dev/null || die "'docker' is not on PATH; install it (apt-get install docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "cannot reach the Docker daemon at ${DOCKER_HOST:-the default socket}; start dockerd or set DOCKER_HOST"
if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "$tag"
	exit 0
fi

cache=${SLIPWAY_CACHE:-$HOME/.cache/slipway}/base
tarball="$cache/${tag#"$repo:"}.tar"
mkdir -p "$cache"

# The suite's own line in the host's apt sources (deb822 or one-line format), so a
# host that is pointed at a local mirror or snapshot builds from that mirror too.
host_mirror() {
	{
		local f
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
				{ uri = ""; ok = 0; deb = 0
				  for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
					if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
					if ($i ~ /^Suites:/ && $i ~ ("[ \t]" suite "([ \t]|$)")) ok = 1 }
				  if (uri != "" && ok && deb) print uri }' "$f"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2 }'
		done
	} | awk 'NR == 1'
}

if [ ! -s "$tarball" ]; then
	command -v debootstrap >/dev/null || die "'debootstrap' is not on PATH; install it (apt-get install debootstrap)"
	[ "$(id -u)" -eq 0 ] || die "debootstrap needs root to build the root filesystem; run as root"
	mirror=${DEBIAN_MIRROR:-$(host_mirror)}
	mirror=${mirror:-http://deb.debian.org/debian}
	root=$(mktemp -d "$cache/rootfs.XXXXXX")
	log="$cache/debootstrap.log"
	trap 'rm -rf "$root" "$tarball.partial"' EXIT
	echo "base-image: debootstrap $suite ($variant, $packages) from $mirror (log: $log)" >&2
	if ! debootstrap --variant="$variant" --include="$packages" "$suite" "$root" "$mirror" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "debootstrap failed (full log: $log)"
	fi
	for d in "${prune_dirs[@]}"; do find "$root/$d" ! -type d -delete; done
	find "$root/usr/share/doc" -type f ! -name copyright -delete
	rm -f "$root"/var/log/*.log
	# mktemp made the root 0700: as the image's / it would lock out every non-root user.
	chmod 755 "$root"
	# Docker gives every container its own /dev, /proc and /sys.
	tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf "$tarball.partial" .
	mv "$tarball.partial" "$tarball"
	# Root filesystems of earlier recipes would only fill the disk.
	find "$cache" -maxdepth 1 -name "$suite-*.tar" ! -path "$tarball" -delete
fi

change_args=()
for c in "${changes[@]}"; do change_args+=(--change "$c"); done
docker import "${change_args[@]}" --message "slipway base: debootstrap $suite $variant $packages" \
	"$tarball" "$tag" >/dev/null || die "docker import of $tarball failed"
echo "base-image: imported $tag" >&2
echo "$tag"
