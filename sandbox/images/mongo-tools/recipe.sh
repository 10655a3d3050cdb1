# shellcheck shell=bash disable=SC2034,SC2154  # sourced by make-image.sh: it sets and reads these
# The backup and restore Jobs' tools on the sandbox (slipway_app_mongodb.tools_image there): its
# MongoDB stand-in (FerretDB) ships no mongodump or mongorestore, and MongoDB's Database Tools
# cannot be had here. bash, Debian's python3 with pymongo, and slipway's own Python stand-ins for
# mongodump and mongorestore (mongo_tools.py, installed under both names): NOT MongoDB's tools,
# they take only the flags the dump scripts give them (README.md). Run as uid 999 with a
# read-only root, as the Jobs do.
# pymongo's wheels (requirements.txt) are fetched from PyPI by the host's pip ($PYTHON, default
# python3) into the image cache when the image is made, and installed from there only.
repo=slipway/mongo-tools
suite=bookworm
variant=minbase
packages=python3
add "$recipe_dir/mongo_tools.py" usr/local/bin/mongodump 0755
add "$recipe_dir/mongo_tools.py" usr/local/bin/mongorestore 0755
# Also what says which pymongo the image has; and its content is in the tag.
add "$recipe_dir/requirements.txt" usr/local/lib/mongo-tools/requirements.txt 0644

changes=(
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	"ENV LANG=C.UTF-8"
	"ENV PYTHONDONTWRITEBYTECODE=1"
	"USER 999:999"
	"WORKDIR /tmp"
	'CMD ["mongodump", "--help"]'
)

customize() {
	local python=${PYTHON:-python3} pyver arch wheels site
	"$python" -m pip --version >/dev/null 2>&1 ||
		die "$name: '$python -m pip' does not work; install pip (apt-get install python3-pip) or set PYTHON"
	pyver=$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	arch=$(uname -m)
	# Wheels for the image's CPython on glibc Linux, whatever the host's Python is.
	local target=(--only-binary=:all: --implementation cp --python-version "$pyver" --abi "cp${pyver/./}"
		--platform "manylinux2014_$arch" --platform "manylinux_2_17_$arch")
	wheels="$cache/wheels-$({ code "$recipe_dir/requirements.txt"; echo "${target[*]}"; } | sha256sum | cut -c1-12)"
	if [ ! -d "$wheels" ]; then
		echo "make-image: $name: downloading $(code "$recipe_dir/requirements.txt" | tr '\n' ' ')for cp${pyver/./} $arch" >&2
		rm -rf "$wheels.partial"
		"$python" -m pip download --quiet --disable-pip-version-check --dest "$wheels.partial" \
			--requirement "$recipe_dir/requirements.txt" "${target[@]}" ||
			die "$name: pip download failed; is PyPI (or your index) reachable?"
		mv "$wheels.partial" "$wheels"
	fi
	# Debian's python3 looks in /usr/local/lib/python3.X/dist-packages; bytecode is made by the
	# image's own interpreter, as root now: the Jobs' root filesystem is read-only.
	site="/usr/local/lib/python$pyver/dist-packages"
	"$python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$wheels" \
		--no-compile --target "$root$site" --requirement "$recipe_dir/requirements.txt" "${target[@]}" ||
		die "$name: pip install from $wheels failed"
	chroot "$root" python3 -m compileall -q "$site"
	chroot "$root" /usr/local/bin/mongodump --version >&2 || die "$name: mongodump --version failed in the image"
	# The mongo image's user: uid and gid 999, as the Jobs' securityContext.
	chroot "$root" groupadd --system --gid 999 mongodb
	chroot "$root" useradd --system --uid 999 --gid 999 --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin mongodb
}
