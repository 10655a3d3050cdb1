#!/usr/bin/env bash
# Builds the sandbox cluster's binaries from the Go module proxy into the cache,
# one folder per pinned version, so a warm start finds them and builds nothing.
# Usage: sandbox/build.sh   (prints the bin folder on success)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
bin="$cache/bin/k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
log="$cache/build.log"
mkdir -p "$cache"

command -v go >/dev/null || { echo "sandbox build: 'go' is not on PATH; install Go 1.26 or newer" >&2; exit 1; }

wanted=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)
missing=()
for b in "${wanted[@]}"; do [ -x "$bin/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$bin"; exit 0; fi

tmp="$bin.partial"
rm -rf "$tmp"; mkdir -p "$tmp"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

build() { # build <module dir> <output> <ldflags> <package>...
	local dir=$1 out=$2 ldflags=$3; shift 3
	echo "sandbox build: $* (log: $log)" >&2
	if ! (cd "$here/$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out" "$@") >>"$log" 2>&1; then
		echo "sandbox build: 'go build $*' failed; the Go error was:" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
}

major=${KUBERNETES_VERSION#v}; major=${major%%.*}
minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
: >"$log"
kver=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kver+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
	kver+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
build kubernetes "$tmp/" "$kver" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
build etcd "$tmp/etcd" "" go.etcd.io/etcd/server/v3
build kwok "$tmp/kwok" "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" sigs.k8s.io/kwok/cmd/kwok
rm -rf "$bin"; mv "$tmp" "$bin"
echo "$bin"
