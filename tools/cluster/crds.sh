#!/usr/bin/env bash
# Prints a folder holding the CustomResourceDefinitions that k8s/ uses from operators the
# local cluster does not run: prometheus-operator's ServiceMonitor and PrometheusRule, as
# its pinned Go module (prometheus-operator/go.mod, checked against go.sum) publishes them.
# Fetched once into the cache, by a key of the pin; progress goes to stderr.
#
#   tools/cluster/crds.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${GANTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gantry}/crds"
key="$(cat "$here"/prometheus-operator/go.{mod,sum} "$here/crds.sh" | sha256sum | cut -c1-16)"
out="$cache/$key"
files=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)
if [[ -s "$out/${files[0]}" && -s "$out/${files[1]}" ]]; then
    echo "$out"
    exit 0
fi
module=github.com/prometheus-operator/prometheus-operator
echo "crds: fetching $module" >&2
dir="$(cd "$here/prometheus-operator" && go mod download "$module" && go list -m -f '{{.Dir}}' "$module")"
mkdir -p "$out.tmp"
for file in "${files[@]}"; do
    cp "$dir/example/prometheus-operator-crd/$file" "$out.tmp/"
done
rm -rf "$out"
mv "$out.tmp" "$out"
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
echo "$out"
