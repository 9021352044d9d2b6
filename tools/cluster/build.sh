#!/usr/bin/env bash
# Builds the local cluster's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) and Prometheus (prometheus, promtool) from the pinned Go
# modules next to this script.
#
# The binaries go to a cache outside git, in a folder named after a hash of the four
# go.mod/go.sum pairs and of this script, so they are rebuilt only when a pin (or the
# way they are built) changes. Prints that folder on stdout; progress goes to stderr.
#
#   tools/cluster/build.sh            build if needed, print the bin folder
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${GANTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gantry}/cluster"

# The Kubernetes version comes from the pin itself, so the stamp cannot drift from it.
kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/kubernetes/go.mod")"
[[ "$kube_version" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || {
    echo "cluster build: cannot read the k8s.io/kubernetes version from kubernetes/go.mod" >&2
    exit 1
}
kube_minor="${BASH_REMATCH[1]}"
# Prometheus 3.x publishes its Go module as v0.3XY.Z for release 3.XY.Z.
prom_module="$(awk '$1 == "github.com/prometheus/prometheus" { print $2 }' "$here/prometheus/go.mod")"
[[ "$prom_module" =~ ^v0\.3([0-9]{2})\.([0-9]+)$ ]] || {
    echo "cluster build: cannot read the Prometheus version from prometheus/go.mod" >&2
    exit 1
}
prom_version="3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"

key="$(cat "$here"/{kubernetes,etcd,kwok,prometheus}/go.{mod,sum} "$here/build.sh" | sha256sum | cut -c1-16)"
bin="$cache/$key/bin"
if [[ -x "$bin/kwok" && -x "$bin/etcd" && -x "$bin/kube-apiserver" && -x "$bin/kubectl" \
    && -x "$bin/kube-controller-manager" && -x "$bin/kube-scheduler" \
    && -x "$bin/prometheus" && -x "$bin/promtool" ]]; then
    echo "$bin"
    exit 0
fi

echo "cluster build: building the local cluster's binaries (about 10 minutes the first time on 2 cores; seconds when Go's build cache has them)" >&2
command -v go >/dev/null || {
    echo "cluster build: Go is not installed (tools/setup.sh installs it)" >&2
    exit 1
}

# Without the stamp every component reports v0.0.0-master, and clients that read the
# server version (Gantry's header, kubectl's skew check) show nonsense.
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
    stamp+=" -X $pkg.gitTreeState=clean"
done

tmp="$cache/$key/tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
started=$SECONDS
export CGO_ENABLED=0
build() { # module dir, output (a folder ending in / or a file), packages...
    local dir="$1" out="$2"
    shift 2
    echo "cluster build: $dir ($*)" >&2
    (cd "$here/$dir" && go build -trimpath -ldflags "-s -w$stamp" -o "$out" "$@")
}
build kubernetes "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
build etcd "$tmp/etcd" go.etcd.io/etcd/server/v3
build kwok "$tmp/" sigs.k8s.io/kwok/cmd/kwok
# Without the stamp Prometheus reports version "" in its build info. No `builtinassets`
# tag: the web UI answers 404, the HTTP API (all Gantry and the tests read) works.
stamp=" -X github.com/prometheus/common/version.Version=$prom_version" \
    build prometheus "$tmp/" github.com/prometheus/prometheus/cmd/prometheus \
    github.com/prometheus/prometheus/cmd/promtool
mv "$tmp" "$bin"
trap - EXIT
# Binaries of older pins are 400 MB each and never used again.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
echo "cluster build: done in $((SECONDS - started))s into $bin" >&2
echo "$bin"
