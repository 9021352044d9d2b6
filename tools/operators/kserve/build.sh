#!/usr/bin/env bash
# Builds KServe's controller manager from the pinned Go module next to this script and
# copies what running it needs from the same module: the CRDs, the inferenceservice
# ConfigMap, the sklearn ClusterServingRuntime and the webhook manifests.
#
# The result goes to a cache outside git, in a folder named after a hash of go.mod, go.sum
# and this script, so it is rebuilt only when the pin (or the way it is built) changes.
# Prints that folder on stdout (bin/manager, crds/, config/); progress goes to stderr.
#
#   tools/operators/kserve/build.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${GANTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gantry}/kserve"
key="$(cat "$here"/go.{mod,sum} "$here/build.sh" | sha256sum | cut -c1-16)"
out="$cache/$key"
if [[ -x "$out/bin/manager" && -s "$out/config/webhooks.yaml" ]]; then
    echo "$out"
    exit 0
fi
echo "kserve build: building KServe's manager (about 14 minutes the first time on 2 cores)" >&2
command -v go >/dev/null || {
    echo "kserve build: Go is not installed (tools/setup.sh installs it)" >&2
    exit 1
}
module=github.com/kserve/kserve
started=$SECONDS
tmp="$out.tmp.$$"
mkdir -p "$tmp/bin" "$tmp/crds" "$tmp/config"
trap 'rm -rf "$tmp"' EXIT
cd "$here"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/bin/manager" "$module/cmd/manager"
dir="$(go list -m -f '{{.Dir}}' "$module")"
cp "$dir"/config/crd/full/serving.kserve.io_*.yaml \
    "$dir"/config/crd/full/clusterstoragecontainer/serving.kserve.io_*.yaml "$tmp/crds/"
cp "$dir/config/configmap/inferenceservice.yaml" "$tmp/config/configmap.yaml"
# Upstream's kustomization names the image; the runtime's file holds a placeholder.
sed "s|image: kserve-sklearnserver:replace|image: kserve/sklearnserver:$(go list -m -f '{{.Version}}' "$module")|" \
    "$dir/config/runtimes/kserve-sklearnserver.yaml" >"$tmp/config/sklearn-runtime.yaml"
cp "$dir/config/webhook/manifests.yaml" "$tmp/config/webhooks.yaml"
chmod -R u+w "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name "*.tmp.*" -exec rm -rf {} +
echo "kserve build: done in $((SECONDS - started))s into $out" >&2
echo "$out"
