#!/usr/bin/env bash
# Benchmark of the GPU inventory at the scale limit: a local cluster with the fleet, then
# 5,000 fake GPU nodes, then PODS pods (six in ten holding a GPU), and a release build of
# Gantry following it all. Prints:
#   - Gantry's memory before and after each step, and from that bytes per node and per pod;
#   - wrk latencies (50 connections) of the overview's summary and of the nodes table's
#     first page (50 rows, free ≥ 1, most free first), then the same page answered per
#     request by paginated LISTs against the API server (the baseline), and their ratio;
#   - time from a pod's bind to the open page's new free count (server-sent events).
#
#   tools/bench/gpu-inventory.sh [PODS]      PODS defaults to 50000; SETTLE=0 measures
#                                            only while kwok is still starting the pods;
#                                            BASELINE=0 skips the LIST baseline
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pods="${1:-50000}"
command -v wrk >/dev/null || { echo "bench: wrk is missing; make setup installs it" >&2; exit 1; }
start_bench gpu_inventory 3977

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$gantry_pid/status"; }
gauge() { curl -fsS "$base/metrics" | awk -v name="gantry_inventory_$1" '$1 == name { print $2 }'; }
# Waits until Gantry's index holds at least $2 objects of kind $1.
wait_gauge() {
    local started=$SECONDS
    until (($(gauge "$1") >= $2)); do sleep 1; done
    echo "bench: Gantry holds $(gauge "$1") $1 ($((SECONDS - started)) s after the seed returned)"
}

rss0=$(rss_kib)
echo "bench: Gantry RSS with the fleet (14 nodes): $((rss0 / 1024)) MiB"
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale 5000 0
wait_gauge nodes 5014
sleep 2
rss1=$(rss_kib)
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale 5000 "$pods"
# (The fleet's few pods come on top; they were in before the scale pods.)
wait_gauge pods "$pods"
sleep 2
rss2=$(rss_kib)
echo "bench: Gantry RSS: $((rss0 / 1024)) MiB (fleet), $((rss1 / 1024)) MiB (+5,000 nodes), $((rss2 / 1024)) MiB (+$pods pods)"
echo "bench: RSS growth per cached node: $(((rss1 - rss0) * 1024 / 5000)) bytes; per cached pod: $(((rss2 - rss1) * 1024 / pods)) bytes"

page="/api/v1/gpu-nodes?sort=free&min_free=1&page=0"
# wrk on the summary and the first page; $1 says when. Leaves the page's p99 in $run/wrk.txt.
# Gantry's CPU time so far, in clock ticks (user + system).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$gantry_pid/stat"; }
measure() {
    for path in "/api/v1/gpu-summary" "$page"; do
        curl -fsS -H "Cookie: $cookie" "$base$path" -o /dev/null
        echo "bench: wrk -c50 -t2 -d20s $path ($1)"
        local before after
        before=$(cpu_ticks)
        wrk -c50 -t2 -d20s --latency -H "Cookie: $cookie" "$base$path" |
            tee "$run/wrk.txt" | grep -E "Latency|50%|90%|99%|Requests/sec|requests in"
        after=$(cpu_ticks)
        awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" \
            '/requests in/ { printf "bench: Gantry CPU per request: %.0f µs\n", ticks / hz / $1 * 1e6 }' "$run/wrk.txt"
    done
}
measure "while kwok is still starting the 50,000 pods"
# SETTLE=0 skips the wait below (about 15 min on two cores).
if [[ "${SETTLE:-1}" == 1 ]]; then
    echo "bench: waiting for kwok to have every scale pod Running (the cluster settles)"
    settle_started=$SECONDS
    until [[ "$($kubectl get pods --namespace=scale --field-selector=status.phase=Pending --no-headers 2>/dev/null | wc -l)" == 0 ]]; do
        sleep 30
    done
    echo "bench: settled after $((SECONDS - settle_started)) s more; Gantry RSS $(($(rss_kib) / 1024)) MiB"
    measure "settled"
fi
# BASELINE=0 skips it (50 clients each listing 50,000 pods take about 5 min).
if [[ "${BASELINE:-1}" == 1 ]]; then
    gantry_p99=$(awk '$1 == "99%" { print $2 }' "$run/wrk.txt")
    echo "bench: baseline, the same page by paginated LISTs per request, 50 clients for 30 s"
    KUBECONFIG="$kubeconfig" "$bench_client" lists 50 30 | tee "$run/lists.txt"
    lists_p99=$(sed -n 's/.*latency:.* p99=\([0-9.]*\) ms.*/\1/p' "$run/lists.txt")
    echo "bench: p99 ratio, LISTs per request / Gantry's index: $lists_p99 ms / $gantry_p99 = $(
        awk -v a="$lists_p99" -v b="$gantry_p99" 'BEGIN {
            if (b ~ /us$/) b = b / 1000; else if (b ~ /ms$/) b = b + 0; else if (b ~ /s$/) b = b * 1000
            printf "%.0f×", a / b }')"
fi

echo "bench: bind → page, 20 pods on 20 scale nodes"
bind_nodes=()
for i in $(seq 4980 4999); do bind_nodes+=("$(printf 'scale-gpu-%04d' "$i")"); done
KUBECONFIG="$kubeconfig" "$bench_client" bind "$base" "$cookie" "${bind_nodes[@]}"
echo "bench: Gantry RSS after the load: $(($(rss_kib) / 1024)) MiB"
