#!/usr/bin/env bash
# The release build's sizes: every front-end file raw and as sent (gzip, brotli), and the
# first load of / as a browser makes it (brotli accepted), signed out (the login page) and in
# (the overview): the page and every /pkg file it names (the main module, the page's own wasm
# chunks and the split loader), in bytes over the wire. Runs the release binary from the
# image's layout (tools/release/layout.sh) after `make release`. Budgets: the main wasm module
# at most 350 KB and the whole first load at most 500 KB, brotli; exits 1 over either.
#
#   make release && make bench-release
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tools/bench/lib.sh
. tools/bench/lib.sh
target="${CARGO_TARGET_DIR:-$root/target}"
run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-sizes.XXXXXX")"
pid=
trap '[[ -z "$pid" ]] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true; rm -rf "$run"' EXIT
layout="$(tools/release/layout.sh "$target" "$run/image")"

kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000 }'; }
printf '\n| file | raw KB | gzip KB | brotli KB |\n|---|---|---|---|\n'
chunks=(0 0 0)
for file in "$layout"/srv/gantry/site/pkg/*; do
    case "$file" in *.gz|*.br|*.json) continue ;; esac
    sizes=("$(stat -c %s "$file")" "$(stat -c %s "$file.gz")" "$(stat -c %s "$file.br")")
    printf '| %s | %s | %s | %s |\n' "$(basename "$file")" "$(kb "${sizes[0]}")" "$(kb "${sizes[1]}")" "$(kb "${sizes[2]}")"
    if [[ "$file" == */pkg/split_*.wasm || "$file" == */pkg/chunk_*.wasm ]]; then
        for i in 0 1 2; do chunks[i]=$((chunks[i] + sizes[i])); done
    fi
done
printf '| **every page chunk** | **%s** | **%s** | **%s** |\n' "$(kb "${chunks[0]}")" "$(kb "${chunks[1]}")" "$(kb "${chunks[2]}")"

password="bench admin password"
GANTRY_LISTEN_ADDR=127.0.0.1:0 GANTRY_DATA_DIR="$layout/var/lib/gantry" GANTRY_ADMIN_PASSWORD="$password" \
    GANTRY_SITE_ROOT="$layout/srv/gantry/site" KUBECONFIG="$run/none" RUST_LOG=error \
    "$layout/usr/local/bin/gantry" >"$run/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "running at" "$run/out" 2>/dev/null && break; sleep 0.1; done
base="$(sed -n 's/^Gantry is running at \(.*\)\/$/\1/p' "$run/out" | head -n 1)"
[[ -n "$base" ]] || { cat "$run/out" >&2; exit 1; }
cookie="$(admin_cookie "$base" "$password")"

status=0 main=
fetch() { # CURL_ARGS... URL: bytes over the wire, brotli accepted, redirects followed
    curl -sSL -o /dev/null -H 'Accept-Encoding: br, gzip' -w '%{size_download}' "$@"
}
# first_load WHO [CURL_ARGS...]: the first load of / as WHO sees it: a table, and the budgets.
first_load() {
    local who="$1" page total bytes path wasm=0
    shift
    page="$(curl -sSL "$@" "$base/")"
    total="$(fetch "$@" "$base/")"
    printf '\n| first load of / (%s) | KB over the wire (brotli) |\n|---|---|\n| the page | %s |\n' "$who" "$(kb "$total")"
    for path in $(grep -o '/pkg/[A-Za-z0-9_.-]*' <<<"$page" | sort -u) /favicon.svg; do
        bytes="$(fetch "$base$path")"
        total=$((total + bytes))
        [[ "$path" != /pkg/gantry.*.wasm ]] || wasm=$bytes
        printf '| %s | %s |\n' "$path" "$(kb "$bytes")"
    done
    printf '| **total** | **%s** |\n' "$(kb "$total")"
    ((wasm > 0 && wasm <= 350000)) || { echo "over budget: the main wasm module is $(kb "$wasm") KB brotli (budget 350)"; status=1; }
    ((total <= 500000)) || { echo "over budget: the first load is $(kb "$total") KB (budget 500)"; status=1; }
    main="$(grep -o '/pkg/gantry\.[A-Za-z0-9_-]*\.wasm' <<<"$page" | head -n 1)"
}
first_load "anonymous: the login page"
first_load "signed in: the overview" -H "Cookie: $cookie"
printf '\n'
curl -sS -D - -o /dev/null -H 'Accept-Encoding: br' "$base$main" |
    grep -iE '^(content-encoding|cache-control|last-modified|content-length):'
exit "$status"
