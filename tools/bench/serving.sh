#!/usr/bin/env bash
# Benchmark of the Serving area on the local cluster (with KServe) and a release build of
# Gantry. Prints:
#   - scale answered → the open service page showing the new count (20 scales);
#   - with 1,000 model-serving Deployments in 100 namespaces: the list's latency at 50
#     clients for 20 s (its first page), from the watch caches; Gantry's RSS.
#
#   tools/bench/serving.sh
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_bench serving 3981

export KUBECONFIG="$kubeconfig"
"$bench_client" rollout "$base" "$cookie" 20
"$bench_client" populate 1000 100
# The caches follow the watches: wait until the list counts them all.
deadline=$((SECONDS + 120))
until [[ "$(curl -fsS -H "Cookie: $cookie" "$base/api/v1/services" | grep -o '"total":[0-9]*' | cut -d: -f2)" -ge 1000 ]]; do
    ((SECONDS < deadline)) || { echo "bench: the list did not fill in 120 s" >&2; exit 1; }
    sleep 1
done
"$bench_client" list "$base" "$cookie" 50 20
echo "bench: Gantry RSS at the end: $(awk '/^VmRSS:/ { printf "%d MiB", $2 / 1024 }' "/proc/$gantry_pid/status")"
