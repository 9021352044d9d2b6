#!/usr/bin/env bash
# Benchmark of the GPU inventory at the scale limit: a local cluster with the fleet plus
# 5,000 fake GPU nodes and PODS pods, Gantry (the build in CARGO_TARGET_DIR, debug unless
# PROFILE=release) on top. Prints cache sync time, Gantry's memory, and wrk latencies of
# the JSON API with 50 connections.
#
#   tools/bench/gpu-inventory.sh [PODS]      PODS defaults to 50000
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pods="${1:-50000}"
profile="${PROFILE:-debug}"
gantry="${CARGO_TARGET_DIR:-$root/target}/$profile/gantry"
[[ -x "$gantry" ]] || { echo "bench: build Gantry first ($gantry missing)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: installing wrk" >&2; apt-get install -y -q wrk >/dev/null; }

run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench.XXXXXX")"
gantry_pid=
cleanup() {
    [[ -z "$gantry_pid" ]] || kill "$gantry_pid" 2>/dev/null || true
    "$root/tools/cluster/down.sh" "$run/cluster"
    rm -rf "$run"
}
trap cleanup EXIT

kubeconfig="$("$root/tools/cluster/up.sh" "$run/cluster" | tail -n 1)"
"$root/tools/cluster/seed.sh" "$kubeconfig"
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale 5000 "$pods"

port=3977
password="bench admin password"
started=$(date +%s%N)
GANTRY_DATA_DIR="$run/data" GANTRY_LISTEN_ADDR="127.0.0.1:$port" KUBECONFIG="$kubeconfig" \
    GANTRY_ADMIN_PASSWORD="$password" RUST_LOG=warn GANTRY_SITE_ROOT="$root/target/site" \
    "$gantry" >"$run/gantry.log" 2>&1 &
gantry_pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.2; done
synced=$(date +%s%N)
echo "bench: caches synced $(((synced - started) / 1000000)) ms after start (5,012 nodes, $pods pods)"

cookie="$(curl -fsS -c - -X POST -H "Origin: http://127.0.0.1:$port" \
    --data "username=admin&password=${password// /+}" "http://127.0.0.1:$port/api/login" |
    awk '$6 == "gantry_session" { print $6 "=" $7 }')"
rss() { awk '/^VmRSS:/ { printf "%d MiB", $2 / 1024 }' "/proc/$gantry_pid/status"; }
echo "bench: Gantry RSS with caches synced: $(rss)"

for path in "/api/v1/gpu-summary" "/api/v1/gpu-nodes?sort=free&min_free=1&page=0"; do
    curl -fsS -H "Cookie: $cookie" "http://127.0.0.1:$port$path" -o /dev/null
    echo "bench: wrk -c50 -t2 -d20s $path"
    wrk -c50 -t2 -d20s --latency -H "Cookie: $cookie" "http://127.0.0.1:$port$path" |
        grep -E "Latency|50%|90%|99%|Requests/sec|requests in"
done
echo "bench: Gantry RSS after the load: $(rss)"
