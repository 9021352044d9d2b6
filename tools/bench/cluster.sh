#!/usr/bin/env bash
# Scale benchmark of the local cluster: how long seeding 1,000 and then 5,000 fake GPU
# nodes takes, and how much memory the API server (and etcd, kwok) hold at 5,000 nodes
# and PODS pods. Starts its own cluster in a temporary folder and stops it afterwards.
#
#   tools/bench/cluster.sh [PODS]        PODS defaults to 50000
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pods="${1:-50000}"

rss_mib() { # COMPONENT
    awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$(<"$run/cluster/pids/$1.pid")/status"
}
report() { # LABEL
    printf '%-34s kube-apiserver %5s MiB   etcd %5s MiB   kwok %5s MiB\n' "$1" \
        "$(rss_mib kube-apiserver)" "$(rss_mib etcd)" "$(rss_mib kwok)"
}

t=$SECONDS
start_cluster
echo "bench: cluster up in $((SECONDS - t))s"
report "empty cluster"

t=$SECONDS
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale 1000 0
echo "bench: 1,000 nodes seeded in $((SECONDS - t))s"
report "1,000 nodes"

t=$SECONDS
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale 5000 0
echo "bench: 4,000 more nodes (5,000 in all) seeded in $((SECONDS - t))s"
report "5,000 nodes"

t=$SECONDS
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale 5000 "$pods"
echo "bench: $pods pods created in $((SECONDS - t))s"
report "5,000 nodes, $pods pods"

# kwok marks the pods Running on its own time; memory once it has caught up (bounded).
t=$SECONDS
for _ in $(seq 120); do
    running="$($kubectl get pods --namespace=scale --field-selector=status.phase=Running --no-headers | wc -l)"
    ((running < pods)) || break
    sleep 5
done
echo "bench: $running of $pods pods Running $((SECONDS - t))s after the last create"
report "5,000 nodes, $pods pods settled"
