#!/usr/bin/env bash
# Builds SeaweedFS (`weed`, Apache-2.0) from the pinned Go module next to this script: a
# real S3-compatible object store, which the artifact store's tests write to through
# Gantry. The binary goes to a cache outside git, in a folder named after a hash of
# go.mod, go.sum and this script, so it is rebuilt only when the pin changes. Prints that
# folder on stdout; progress goes to stderr.
#
#   tools/s3/build.sh            build if needed, print the bin folder
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${GANTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gantry}/s3"
key="$(cat "$here"/go.{mod,sum} "$here/build.sh" | sha256sum | cut -c1-16)"
bin="$cache/$key/bin"
if [[ -x "$bin/weed" ]]; then
    echo "$bin"
    exit 0
fi

echo "s3 build: building SeaweedFS (several minutes the first time on 2 cores; seconds when Go's build cache has it)" >&2
command -v go >/dev/null || {
    echo "s3 build: Go is not installed (tools/setup.sh checks for it)" >&2
    exit 1
}
tmp="$cache/$key/tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
started=$SECONDS
(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/weed" \
    github.com/seaweedfs/seaweedfs/weed)
mv "$tmp" "$bin"
trap - EXIT
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
echo "s3 build: done in $((SECONDS - started))s into $bin" >&2
echo "$bin"
