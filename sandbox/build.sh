#!/usr/bin/env bash
# Builds the sandbox's binaries (control plane, node and add-ons) from the Go module proxy into
# the cache, one folder per set of pinned versions, so a warm start finds them and builds nothing.
# Usage: sandbox/build.sh               build what is missing; the last line out is the bin folder
#        sandbox/build.sh --print-dir   print the bin folder, built or not (stopping needs no build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"
cache=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
# Named after a hash of versions.env's settings (its comments aside): a new pin builds into a
# new folder beside the old one, which keeps working until the new one is complete.
key=$(grep -v -e '^#' -e '^[[:space:]]*$' "$here/versions.env" | sha256sum | cut -c1-12)
bin="$cache/bin/sandbox-$key"
log="$cache/build.log"

case ${1:-} in
"") ;;
--print-dir) echo "$bin"; exit 0 ;;
*) echo "usage: $0 [--print-dir]" >&2; exit 2 ;;
esac

# In the order they are built: what a node needs first, the slowest add-on (Traefik) last.
wanted=(kubelet kube-proxy containerd containerd-shim-runc-v2 ctr pause coredns
	kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok
	ferretdb metrics-server registry traefik)

# The version flags each program's own release build sets, so `--version` (and the node's
# kubeletVersion, which would otherwise read v0.0.0-master) reports the pinned version.
# The dates are fixed so that the same sources always link to the same binary.
epoch=1970-01-01T00:00:00Z
major=${KUBERNETES_VERSION#v}; major=${major%%.*}
minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
kver=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kver+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
	kver+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$epoch"
done

recipe() { # recipe <binary>: sets dir (its wrapper module), module, version, pkg, tags, flags
	tags="" flags=""
	case $1 in
	kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet | kube-proxy)
		dir=kubernetes module=k8s.io/kubernetes version=$KUBERNETES_VERSION
		pkg=k8s.io/kubernetes/cmd/$1 flags=$kver ;;
	etcd)
		dir=etcd module=go.etcd.io/etcd/server/v3 version=$ETCD_VERSION pkg=$module ;;
	kwok)
		dir=kwok module=sigs.k8s.io/kwok version=$KWOK_VERSION pkg=$module/cmd/kwok
		flags="-X $module/pkg/consts.Version=${KWOK_VERSION#v}" ;;
	containerd | containerd-shim-runc-v2 | ctr)
		# Without cgo, and without the btrfs, devmapper and zfs snapshotters (which want cgo
		# or tools the sandbox lacks): the node uses overlayfs. urfave_cli_no_docs, as in
		# containerd's Makefile, leaves out the CLI's man-page generator.
		dir=containerd module=github.com/containerd/containerd/v2 version=$CONTAINERD_VERSION
		pkg=$module/cmd/$1 tags="urfave_cli_no_docs no_btrfs no_devmapper no_zfs"
		flags="-X $module/version.Version=$CONTAINERD_VERSION -X $module/version.Package=$module" ;;
	pause)
		dir=pause module="" version="" pkg=slipway.dev/sandbox/pause ;;
	coredns)
		# Its default plugin set (plugin.cfg), kubernetes, health, ready, cache and loop among them.
		# Its version is a constant in its source; its release also links in the git commit
		# (coremain.GitCommit), which a module download does not carry, so that stays empty.
		dir=coredns module=github.com/coredns/coredns version=$COREDNS_VERSION pkg=$module ;;
	ferretdb)
		# Its SQLite backend (pure Go: modernc.org/sqlite) is in by default; build tags only
		# take backends out (ferretdb_no_sqlite, ferretdb_no_postgresql) or add debug checks.
		# The version comes from a file, not a flag: see ferretdb_source.
		dir=ferretdb module=github.com/FerretDB/FerretDB version=$FERRETDB_VERSION pkg=./cmd/ferretdb ;;
	metrics-server)
		dir=metrics-server module=sigs.k8s.io/metrics-server version=$METRICS_SERVER_VERSION
		pkg=$module/cmd/metrics-server
		flags="-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
		flags+=" -X k8s.io/client-go/pkg/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.buildDate=$epoch" ;;
	registry)
		# The CNCF distribution registry, with its own release's version flags.
		dir=registry module=github.com/distribution/distribution/v3 version=$REGISTRY_VERSION
		pkg=$module/cmd/registry flags="-X $module/version.version=$REGISTRY_VERSION -X $module/version.mainpkg=$module" ;;
	traefik)
		dir=traefik module=github.com/traefik/traefik/v3 version=$TRAEFIK_VERSION pkg=$module/cmd/traefik
		flags="-X $module/pkg/version.Version=$TRAEFIK_VERSION -X $module/pkg/version.BuildDate=$epoch" ;;
	*) echo "sandbox build: no recipe for $1" >&2; exit 1 ;;
	esac
}

# A binary is current when its stamp (its recipe and the hash of every file of its wrapper
# module) matches the one recorded beside it: changing a version, a flag or a go.sum rebuilds
# just the binaries it affects. One sha256sum hashes every module's files, and nothing else
# forks, so that a run with everything built takes a few milliseconds.
declare -A module_hash=() stamps=()
for b in "${wanted[@]}"; do recipe "$b"; module_hash[$dir]=""; done
while read -r sum path; do
	path=${path#"$here"/}
	module_hash[${path%%/*}]+=" $path=$sum"
done < <(cd "$here" && find "${!module_hash[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
stamp() { # stamp <binary>: records in stamps[] the stamp its current recipe gives it
	recipe "$1"
	stamps[$1]="$1 $dir $module@$version $pkg tags=[$tags] ldflags=[$flags]${module_hash[$dir]}"
}
current() { # current <folder> <binary> <stamp>: whether the folder holds that binary, built so
	local recorded=""
	[ -x "$1/$2" ] && [ -f "$1/.stamps/$2" ] && IFS= read -r recorded <"$1/.stamps/$2"
	[ "$recorded" = "$3" ]
}

missing() { # sets missing=(the wanted binaries that $bin lacks or holds out of date)
	missing=()
	local b
	for b in "${wanted[@]}"; do
		[ -n "${stamps[$b]:-}" ] || stamp "$b"
		current "$bin" "$b" "${stamps[$b]}" || missing+=("$b")
	done
}
missing
if [ ${#missing[@]} -eq 0 ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "sandbox build: 'go' is not on PATH; install Go 1.26 or newer" >&2; exit 1; }
mkdir -p "$bin/.stamps"
# One build at a time per folder: a second one waits, then finds what the first one built.
exec 9>"$bin/.lock"
flock 9
missing
if [ ${#missing[@]} -eq 0 ]; then echo "$bin"; exit 0; fi
# Holding the lock, whatever temporary folder is left here is from an interrupted build.
rm -rf "$bin"/.tmp.*
tmp=$(mktemp -d "$bin/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
: >"$log"

fail() { # fail <what failed>: reports it with the end of the log and exits
	echo "sandbox build: $1 failed; the end of $log:" >&2
	tail -n 40 "$log" >&2
	exit 1
}

module_dir() { # module_dir <wrapper> <module>: the module's folder in the module cache (downloads it)
	(cd "$here/$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2") 2>>"$log"
}
# Called as `x=$(f) || fail`, the two functions below run without set -e, hence every `|| return`.

# FerretDB reads its version from build/version/version.txt, embedded at compile time, and only
# when it is the main module (its init checks debug.ReadBuildInfo's Main.Path), so it is built in
# a writable copy of its module, verified against our go.sum, with that file added. The copy
# builds with FerretDB's own go.mod and go.sum: the dependency versions of its release.
ferretdb_source() { # prints the folder to build ferretdb in
	local from src="$tmp/ferretdb-src"
	from=$(module_dir ferretdb "$module") || return
	cp -R "$from" "$src" && chmod -R u+w "$src" || return
	echo "$FERRETDB_VERSION" >"$src/build/version/version.txt" || return
	echo "$src"
}

# Traefik imports lego's registry of ACME DNS-01 providers, and some of their SDKs are not on the
# module proxy. The build uses a copy of our go.mod that also replaces lego by a copy of its
# release whose registry is traefik/legodns/providers.go (go build -overlay refuses files in the
# module cache). Relative paths in it (./ext) still resolve from the wrapper module's folder.
traefik_modfile() { # prints the go.mod to build traefik with
	local lego src="$tmp/traefik-src"
	lego=$(module_dir traefik github.com/go-acme/lego/v5) || return
	mkdir "$src" && cp -R "$lego" "$src/lego" && chmod -R u+w "$src/lego" || return
	cp "$here/traefik/legodns/providers.go" "$src/lego/providers/dns/zz_gen_dns_providers.go" || return
	cp "$here/traefik/go.sum" "$src/go.sum" || return
	{ cat "$here/traefik/go.mod" && echo "replace github.com/go-acme/lego/v5 => $src/lego"; } >"$src/go.mod" || return
	echo "$src/go.mod"
}

# Each binary is linked into the temporary folder, then moved in place (a rename), so an
# interrupted build never leaves a half-written binary; its stamp follows it the same way.
# A binary of the same stamp in another version folder is linked rather than built.
for b in "${missing[@]}"; do
	recipe "$b"
	stamp=${stamps[$b]}
	found=""
	for other in "$cache"/bin/*/; do
		other=${other%/}
		if [ "$other" != "$bin" ] && current "$other" "$b" "$stamp"; then found=$other; break; fi
	done
	if [ -n "$found" ]; then
		echo "sandbox build: $b is unchanged; taken from $found" >&2
		ln "$found/$b" "$tmp/$b" 2>/dev/null || cp "$found/$b" "$tmp/$b"
	else
		if [ -n "$module" ]; then
			# The folder's name says versions.env's version; make sure the go.mod builds that one.
			pinned=$(cd "$here/$dir" && go list -m -f '{{.Version}}' "$module") || fail "reading $dir/go.mod"
			[ "$pinned" = "$version" ] || {
				echo "sandbox build: versions.env pins $module $version but sandbox/$dir/go.mod has $pinned" >&2
				exit 1
			}
		fi
		cwd="$here/$dir" args=()
		case $b in
		ferretdb) cwd=$(ferretdb_source) || fail "preparing FerretDB's source" ;;
		traefik) modfile=$(traefik_modfile) || fail "preparing Traefik's go.mod"; args=(-modfile "$modfile") ;;
		esac
		echo "sandbox build: $b ($pkg; log: $log)" >&2
		echo "=== $b: go build $pkg" >>"$log"
		start=$SECONDS
		(cd "$cwd" && go build "${args[@]}" -trimpath -tags "$tags" -ldflags "-s -w $flags" -o "$tmp/$b" "$pkg") >>"$log" 2>&1 ||
			fail "'go build $pkg' (for $b)"
		echo "sandbox build: $b built in $((SECONDS - start)) s" >&2
	fi
	mv -f "$tmp/$b" "$bin/$b"
	printf '%s\n' "$stamp" >"$tmp/stamp"
	mv -f "$tmp/stamp" "$bin/.stamps/$b"
done
echo "$bin"
