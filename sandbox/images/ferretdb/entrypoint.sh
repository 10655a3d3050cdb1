#!/bin/sh
# FerretDB behind the mongo image's interface, so that the MongoDB StatefulSet runs it as it is:
# MONGO_INITDB_ROOT_USERNAME with MONGO_INITDB_ROOT_PASSWORD_FILE (or MONGO_INITDB_ROOT_PASSWORD)
# creates that user in `admin` (SCRAM-SHA-256 and SCRAM-SHA-1) on the first start, when the data
# has no `admin` database yet, as mongo's entrypoint does on an empty data folder; later starts
# keep the users the data holds, and every command but the handshake needs a login. Without a
# user, as with mongo, there is no authentication. Arguments go to ferretdb after the settings
# below and override them (the last of a flag given twice wins).
set -eu

auth=""
if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
	if [ -n "${MONGO_INITDB_ROOT_PASSWORD_FILE:-}" ]; then
		# As mongo's entrypoint: the file's content without its trailing newlines.
		MONGO_INITDB_ROOT_PASSWORD=$(cat "$MONGO_INITDB_ROOT_PASSWORD_FILE")
	fi
	if [ -z "${MONGO_INITDB_ROOT_PASSWORD:-}" ]; then
		echo "docker-entrypoint.sh: MONGO_INITDB_ROOT_USERNAME needs MONGO_INITDB_ROOT_PASSWORD_FILE" \
			"or MONGO_INITDB_ROOT_PASSWORD" >&2
		exit 1
	fi
	# FerretDB 1.x's SCRAM authentication with its own users is still behind a test flag.
	auth=--test-enable-new-auth
	# Through the environment rather than the command line, which every process may read.
	export FERRETDB_SETUP_DATABASE=admin
	export FERRETDB_SETUP_USERNAME="$MONGO_INITDB_ROOT_USERNAME"
	export FERRETDB_SETUP_PASSWORD="$MONGO_INITDB_ROOT_PASSWORD"
fi
unset MONGO_INITDB_ROOT_PASSWORD
# No telemetry, by flag and by convention: the sandbox sends nothing out.
export DO_NOT_TRACK=1

# The debug listener (metrics, pprof) stays off; the state file (an instance id) lives with
# the data, the only writable place besides /tmp.
exec ferretdb \
	--handler=sqlite \
	--sqlite-url=file:/data/db/ \
	--state-dir=/data/db \
	--listen-addr=0.0.0.0:27017 \
	--debug-addr=- \
	--telemetry=disable \
	${auth:+"$auth"} \
	"$@"
