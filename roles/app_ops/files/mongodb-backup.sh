#!/bin/bash
# Runs in the backup Job: dumps the database to $BACKUP_DIR/$DUMP_NAME, then keeps the newest
# $BACKUP_RETENTION dumps. A failed dump leaves neither a partial file nor fewer old dumps.
set -euo pipefail
: "${BACKUP_DIR:?}" "${DUMP_NAME:?}" "${BACKUP_RETENTION:?}" "${MONGODB_HOST:?}" "${MONGODB_PASSWORD_FILE:?}"

dump_pattern='^mongodb-[0-9]{8}-[0-9]{6}\.archive\.gz$'
if ! grep -Eq "$dump_pattern" <<<"$DUMP_NAME"; then
    echo "backup: '$DUMP_NAME' is not a dump name (mongodb-YYYYmmdd-HHMMSS.archive.gz)" >&2
    exit 2
fi
if ! [[ "$BACKUP_RETENTION" =~ ^[1-9][0-9]*$ ]]; then
    echo "backup: BACKUP_RETENTION must be a positive number, got '$BACKUP_RETENTION'" >&2
    exit 2
fi

# The password goes in a config file, not on the command line where `ps` would show it.
config=$(mktemp)
partial="$BACKUP_DIR/.$DUMP_NAME.partial"
trap 'rm -f "$config" "$partial"' EXIT
printf 'password: "%s"\n' "$(cat "$MONGODB_PASSWORD_FILE")" >"$config"

mongodump --host="$MONGODB_HOST" --port="${MONGODB_PORT:-27017}" \
    --username="${MONGODB_USERNAME:-root}" --authenticationDatabase=admin \
    --config="$config" --gzip --archive="$partial"
mv "$partial" "$BACKUP_DIR/$DUMP_NAME"
echo "backup: wrote $DUMP_NAME ($(stat -c %s "$BACKUP_DIR/$DUMP_NAME") bytes)"

# Names sort by time: everything after the newest $BACKUP_RETENTION goes.
find "$BACKUP_DIR" -maxdepth 1 -type f -printf '%f\n' | grep -E "$dump_pattern" | sort -r \
    | tail -n "+$((BACKUP_RETENTION + 1))" | while read -r old; do
        rm -f "$BACKUP_DIR/$old"
        echo "backup: removed $old (keeping the newest $BACKUP_RETENTION)"
    done
echo "backup: dumps kept: $(find "$BACKUP_DIR" -maxdepth 1 -type f -printf '%f\n' | grep -Ec "$dump_pattern")"
