#!/usr/bin/env bash
# Makes an image the sandbox runs, without any container registry: a Debian root filesystem
# from the Debian mirror (debootstrap), with the files its recipe adds, imported into the
# Docker daemon named by $DOCKER_HOST. Each image has a recipe, sandbox/images/<name>/recipe.sh
# (sourced; see below). The tag is a hash of this script's code and the recipe's (comments
# aside) and of the content of every file the recipe adds, which together decide the image's
# content: changing any of them makes a new tag beside the old one (and a new cached root
# filesystem), and a re-run finds its image.
# Usage: sandbox/make-image.sh NAME [--print-tag]   (prints the image tag as its last line;
#        --print-tag only prints it, making nothing and needing no Docker engine)
#        sandbox/make-image.sh NAME NAME...          (makes each in turn, printing each tag)
#        NAME: python-base, redis or ferretdb (a folder under sandbox/images/)
# Env:   SLIPWAY_CACHE (default ~/.cache/slipway), DEBIAN_MIRROR (default: the host's apt
#        source for the suite, else deb.debian.org); a recipe may read its own (ferretdb:
#        SLIPWAY_FERRETDB_BIN).
#
# A recipe sets
#   repo      the image's repository (slipway/<something>); the tag is <suite>-<hash>
#   suite     Debian suite, variant (debootstrap --variant), packages (comma-separated)
#   changes   array of `docker import --change` instructions (ENV, USER, WORKDIR, CMD, ...)
# and may call `add SOURCE DEST MODE` (a file into the image, owned by root) and define
# `customize` (run after debootstrap and the added files, with $root the root filesystem).
set -euo pipefail

die() { echo "make-image: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Several images: one call (one task in the playbook), each made in turn.
if [ $# -gt 1 ] && [ "$2" != --print-tag ]; then
	for each in "$@"; do "${BASH_SOURCE[0]}" "$each"; done
	exit 0
fi
name=${1:-}
[ -n "$name" ] && [ -f "$here/images/$name/recipe.sh" ] ||
	die "usage: $0 NAME [--print-tag], NAME one of: $(cd "$here/images" && echo */ | tr -d /)"
recipe_dir="$here/images/$name"

adds=() # "SOURCE|DEST|MODE"
add() {
	[ $# -eq 3 ] || die "$name: add needs SOURCE DEST MODE"
	[ -f "$1" ] || die "$name: $1 (to be added as $2) does not exist"
	adds+=("$1|$2|$3")
}
repo="" suite="" variant="" packages="" changes=()
# shellcheck source=/dev/null
source "$recipe_dir/recipe.sh"
[ -n "$repo" ] && [ -n "$suite" ] && [ -n "$variant" ] || die "$name: the recipe must set repo, suite and variant"
# Only needed to install packages or read about them, not to run; the copyright
# files stay, as the licences of what the image ships ask.
prune_dirs=(var/cache/apt/archives var/lib/apt/lists usr/share/man usr/share/info usr/share/locale)

code() { grep -Ev '^[[:space:]]*(#|$)' "$1"; }
digest=$({
	code "${BASH_SOURCE[0]}"
	code "$recipe_dir/recipe.sh"
	for a in ${adds[@]+"${adds[@]}"}; do
		IFS='|' read -r src dest mode <<<"$a"
		echo "$dest $mode $(sha256sum <"$src" | cut -d' ' -f1)"
	done
} | sha256sum | cut -c1-12)
tag="$repo:$suite-$digest"
if [ "${2:-}" = --print-tag ]; then
	echo "$tag"
	exit 0
fi
[ $# -eq 1 ] || die "usage: $0 NAME [--print-tag]"

command -v docker >/dev/null || die "'docker' is not on PATH; install it (apt-get install docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "cannot reach the Docker daemon at ${DOCKER_HOST:-the default socket}; start dockerd or set DOCKER_HOST"
if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "$tag"
	exit 0
fi

cache=${SLIPWAY_CACHE:-$HOME/.cache/slipway}/images/$name
tarball="$cache/$suite-$digest.tar"
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
	echo "make-image: $name: debootstrap $suite ($variant${packages:+, $packages}) from $mirror (log: $log)" >&2
	if ! debootstrap --variant="$variant" ${packages:+--include="$packages"} "$suite" "$root" "$mirror" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "$name: debootstrap failed (full log: $log)"
	fi
	for a in ${adds[@]+"${adds[@]}"}; do
		IFS='|' read -r src dest mode <<<"$a"
		install -D -o 0 -g 0 -m "$mode" "$src" "$root/$dest"
	done
	if declare -F customize >/dev/null; then customize; fi
	for d in "${prune_dirs[@]}"; do find "$root/$d" ! -type d -delete; done
	find "$root/usr/share/doc" -type f ! -name copyright -delete
	rm -f "$root"/var/log/*.log
	# mktemp made the root 0700: as the image's / it would lock out every non-root user.
	chmod 755 "$root"
	# Docker gives every container its own /dev, /proc and /sys.
	tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf "$tarball.partial" .
	mv "$tarball.partial" "$tarball"
	# Root filesystems of this image's earlier recipes would only fill the disk.
	find "$cache" -maxdepth 1 -name '*.tar' ! -path "$tarball" -delete
fi

change_args=()
for c in "${changes[@]}"; do change_args+=(--change "$c"); done
docker import ${change_args[@]+"${change_args[@]}"} \
	--message "slipway $name: debootstrap $suite $variant${packages:+ $packages}" \
	"$tarball" "$tag" >/dev/null || die "docker import of $tarball failed"
echo "make-image: imported $tag" >&2
echo "$tag"
