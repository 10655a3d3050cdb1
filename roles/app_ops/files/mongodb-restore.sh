#!/bin/bash
# Runs in the restore Job: replaces the database's collections with those of $BACKUP_DIR/$DUMP_NAME.
set -euo pipefail
: "${BACKUP_DIR:?}" "${DUMP_NAME:?}" "${MONGODB_HOST:?}" "${MONGODB_PASSWORD_FILE:?}"

if [[ "$DUMP_NAME" == */* || ! -f "$BACKUP_DIR/$DUMP_NAME" ]]; then
    echo "restore: no dump '$DUMP_NAME' in the backup volume; dumps there:" >&2
    find "$BACKUP_DIR" -maxdepth 1 -type f -name 'mongodb-*.archive.gz' -printf '  %f\n' | sort >&2
    exit 1
fi

config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf 'password: "%s"\n' "$(cat "$MONGODB_PASSWORD_FILE")" >"$config"

mongorestore --host="$MONGODB_HOST" --port="${MONGODB_PORT:-27017}" \
    --username="${MONGODB_USERNAME:-root}" --authenticationDatabase=admin \
    --config="$config" --gzip --archive="$BACKUP_DIR/$DUMP_NAME" --drop
echo "restore: restored $DUMP_NAME"
