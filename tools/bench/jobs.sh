#!/usr/bin/env bash
# Benchmark of training jobs on the local cluster with a release build of Gantry. Prints:
#   - launch through the API → the job in the open list (20 launches);
#   - status changes of 200 Jobs (kwok runs each 5–24 s) → the open list, from a watch
#     seeing each change to the page's stream showing it;
#   - a job's log stream while its log grows by 1,000 lines a second for 20 s.
#
#   tools/bench/jobs.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"
cargo build --release -q -p gantry-server --bin gantry
client="$(cargo bench -q -p gantry-server --bench jobs --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[[ -x "$client" ]] || { echo "bench: could not build the benchmark client" >&2; exit 1; }

run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench-jobs.XXXXXX")"
gantry_pid=
cleanup() {
    [[ -z "$gantry_pid" ]] || kill "$gantry_pid" 2>/dev/null || true
    "$root/tools/cluster/down.sh" "$run/cluster"
    rm -rf "$run"
}
trap cleanup EXIT

kubeconfig="$("$root/tools/cluster/up.sh" "$run/cluster" | tail -n 1)"
"$root/tools/cluster/seed.sh" "$kubeconfig"
kubectl="$("$root/tools/cluster/build.sh")/kubectl --kubeconfig=$kubeconfig"
$kubectl create namespace bench >/dev/null

port=3978
base="http://127.0.0.1:$port"
password="bench admin password"
GANTRY_DATA_DIR="$run/data" GANTRY_LISTEN_ADDR="127.0.0.1:$port" KUBECONFIG="$kubeconfig" \
    GANTRY_ADMIN_PASSWORD="$password" RUST_LOG=warn "$target/release/gantry" >"$run/gantry.log" 2>&1 &
gantry_pid=$!
until curl -fsS "$base/readyz" >/dev/null 2>&1; do sleep 0.2; done
cookie="$(curl -fsS -c - -X POST -H "Origin: $base" \
    --data "username=admin&password=${password// /+}" "$base/api/login" |
    awk '$6 == "gantry_session" { print $6 "=" $7 }')"

export KUBECONFIG="$kubeconfig"
"$client" submit "$base" "$cookie" 20
"$client" churn "$base" "$cookie" 200
# Every fake pod outside ml-serving serves the training log file (tools/cluster/up.sh).
"$client" write-log "$run/cluster/pod-logs/training.log" 1000 25 &
writer=$!
sleep 2
"$client" logs "$base" "$cookie" submit-000 20
wait "$writer"
echo "bench: Gantry RSS at the end: $(awk '/^VmRSS:/ { printf "%d MiB", $2 / 1024 }' "/proc/$gantry_pid/status")"
