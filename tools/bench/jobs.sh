#!/usr/bin/env bash
# Benchmark of training jobs on the local cluster with a release build of Gantry. Prints:
#   - launch through the API → the job in the open list (20 launches);
#   - status changes of 200 Jobs (kwok runs each 5–24 s) → the open list, from a watch
#     seeing each change to the page's stream showing it;
#   - a job's log stream while its log grows by 1,000 lines a second for 20 s.
#
#   tools/bench/jobs.sh
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_bench jobs 3978

export KUBECONFIG="$kubeconfig"
"$bench_client" submit "$base" "$cookie" 20
"$bench_client" churn "$base" "$cookie" 200
# Every fake pod outside ml-serving serves the training log file (tools/cluster/up.sh).
"$bench_client" write-log "$run/cluster/pod-logs/training.log" 1000 25 &
writer=$!
sleep 2
"$bench_client" logs "$base" "$cookie" submit-000 20
wait "$writer"
echo "bench: Gantry RSS at the end: $(awk '/^VmRSS:/ { printf "%d MiB", $2 / 1024 }' "/proc/$gantry_pid/status")"
