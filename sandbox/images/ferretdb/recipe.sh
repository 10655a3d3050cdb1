# shellcheck shell=bash disable=SC2034,SC2154  # sourced by make-image.sh: it sets and reads these
# A stand-in for MongoDB on the sandbox (slipway_app_mongodb.image there), where mongo:6.0.6
# cannot be pulled: FerretDB, which speaks MongoDB's wire protocol and stores the documents in
# SQLite files under /data/db, behind an entrypoint that takes the mongo image's
# MONGO_INITDB_ROOT_* interface (entrypoint.sh). It is not MongoDB: enough for the demo app.
# The binary is an input: $SLIPWAY_FERRETDB_BIN, else ferretdb in the folder that
# `sandbox/build.sh --print-dir` names (it builds FerretDB with the sandbox's binaries).
repo=slipway/ferretdb
suite=bookworm
variant=minbase
packages=""

ferretdb_bin=${SLIPWAY_FERRETDB_BIN:-}
if [ -z "$ferretdb_bin" ]; then
	# Until build.sh has --print-dir, calling it would start a build instead of naming its folder.
	grep -q -- --print-dir "$here/build.sh" ||
		die "$name: set SLIPWAY_FERRETDB_BIN to a FerretDB binary (sandbox/build.sh has no --print-dir yet)"
	ferretdb_bin="$("$here/build.sh" --print-dir)/ferretdb"
fi
add "$ferretdb_bin" usr/local/bin/ferretdb 0755
add "$recipe_dir/entrypoint.sh" usr/local/bin/docker-entrypoint.sh 0755

changes=(
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	"USER 999:999"
	"WORKDIR /data/db"
	"EXPOSE 27017"
	'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'
)

customize() {
	# A binary that cannot start (a build without its version.txt panics) fails here, not in a pod.
	"$root/usr/local/bin/ferretdb" --version >&2 || die "$name: $ferretdb_bin --version failed"
	chroot "$root" groupadd --system --gid 999 ferretdb
	chroot "$root" useradd --system --uid 999 --gid 999 --home-dir /data/db --no-create-home \
		--shell /usr/sbin/nologin ferretdb
	install -d -o 999 -g 999 -m 0755 "$root/data/db"
}
