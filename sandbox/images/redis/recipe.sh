# shellcheck shell=bash disable=SC2034,SC2154  # sourced by make-image.sh: it sets and reads these
# Redis for the sandbox (slipway_app_redis.image there), where redis:7.0.11-alpine cannot be
# pulled: Debian's redis-server (bookworm: 7.0.15) and redis-cli (the probes), run as uid 999,
# the pod spec's, and writing only under /data. Started without a config file: Debian's
# /etc/redis/redis.conf listens on loopback only and daemonizes. Like the official image
# without a config file: every address, protected mode off (the app's pods reach it over the
# pod network, without a password), logs to stdout.
repo=slipway/redis
suite=bookworm
variant=minbase
packages=redis-server
changes=(
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	"USER 999:999"
	"WORKDIR /data"
	"EXPOSE 6379"
	'CMD ["redis-server", "--bind", "*", "-::*", "--protected-mode", "no", "--dir", "/data", "--daemonize", "no"]'
)

customize() {
	# Debian's package made its system user `redis` with the next free ids; make them 999.
	local uid gid
	uid=$(awk -F: '$1 == "redis" { print $3 }' "$root/etc/passwd")
	gid=$(awk -F: '$1 == "redis" { print $3 }' "$root/etc/group")
	chroot "$root" groupmod -g 999 redis
	chroot "$root" usermod -u 999 -g 999 redis
	find "$root" -xdev \( -uid "$uid" -o -gid "$gid" \) -exec chown -h 999:999 {} +
	install -d -o 999 -g 999 -m 0755 "$root/data"
}
