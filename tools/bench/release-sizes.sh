#!/usr/bin/env bash
# The release build's sizes: every front-end file raw and as sent (gzip, brotli), and the
# first load of / as a browser makes it (brotli accepted): the page and every /pkg file it
# names, in bytes over the wire. Runs the release binary from the image's layout
# (tools/release/layout.sh) after `make release`. Budgets: the wasm at most 350 KB and the
# whole first load at most 500 KB, brotli; exits 1 over either.
#
#   make release && make bench-release
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-sizes.XXXXXX")"
pid=
trap '[[ -z "$pid" ]] || kill "$pid" 2>/dev/null; rm -rf "$run"' EXIT
layout="$(tools/release/layout.sh "$target" "$run/image")"

kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000 }'; }
printf '\n| file | raw KB | gzip KB | brotli KB |\n|---|---|---|---|\n'
for file in "$layout"/srv/gantry/site/pkg/*; do
    case "$file" in *.gz|*.br) continue ;; esac
    printf '| %s | %s | %s | %s |\n' "$(basename "$file")" "$(kb "$(stat -c %s "$file")")" \
        "$(kb "$(stat -c %s "$file.gz")")" "$(kb "$(stat -c %s "$file.br")")"
done

GANTRY_LISTEN_ADDR=127.0.0.1:0 GANTRY_DATA_DIR="$layout/var/lib/gantry" \
    GANTRY_SITE_ROOT="$layout/srv/gantry/site" KUBECONFIG="$run/none" RUST_LOG=error \
    "$layout/usr/local/bin/gantry" >"$run/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "running at" "$run/out" 2>/dev/null && break; sleep 0.1; done
base="$(sed -n 's/^Gantry is running at \(.*\)\/$/\1/p' "$run/out" | head -n 1)"
[[ -n "$base" ]] || { cat "$run/out" >&2; exit 1; }

fetch() { # PATH: bytes over the wire, brotli accepted, redirects followed
    curl -sSL -o /dev/null -H 'Accept-Encoding: br, gzip' -w '%{size_download}' "$base$1"
}
page="$(curl -sSL "$base/")"
total="$(fetch /)"
printf '\n| first load of / | KB over the wire (brotli) |\n|---|---|\n| the page | %s |\n' "$(kb "$total")"
wasm=0
for path in $(grep -o '/pkg/[A-Za-z0-9_.-]*' <<<"$page" | sort -u) /favicon.svg; do
    bytes="$(fetch "$path")"
    total=$((total + bytes))
    [[ "$path" != *.wasm ]] || wasm=$bytes
    printf '| %s | %s |\n' "$path" "$(kb "$bytes")"
done
printf '| **total** | **%s** |\n\n' "$(kb "$total")"
curl -sS -D - -o /dev/null -H 'Accept-Encoding: br' "$base$(grep -o '/pkg/[A-Za-z0-9_.-]*\.wasm' <<<"$page" | head -n 1)" |
    grep -iE '^(content-encoding|cache-control|last-modified|content-length):'
status=0
((wasm > 0 && wasm <= 350000)) || { echo "over budget: the wasm is $(kb "$wasm") KB brotli (budget 350)"; status=1; }
((total <= 500000)) || { echo "over budget: the first load is $(kb "$total") KB (budget 500)"; status=1; }
exit "$status"
