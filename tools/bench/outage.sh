#!/usr/bin/env bash
# An API server outage as an operator sees one: the local cluster's kube-apiserver is
# stopped with SIGSTOP (it keeps its port: connections are accepted by the kernel and then
# nothing answers, as in a partition or an overload) for OUTAGE seconds, then continued.
# Prints, before, during and after: the time of a cached read (the GPU summary) and whether
# it says "stale since", the time and status of a write (a launch), /readyz, and how long
# after SIGCONT Gantry is ready again.
#
#   tools/bench/outage.sh              # the release build (built here)
#   GANTRY_BIN=path/to/gantry OUTAGE=120 tools/bench/outage.sh
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
outage="${OUTAGE:-60}"
port=3979
start_seeded
apiserver="$(cat "$run/cluster/pids/kube-apiserver.pid")"

start_gantry "$gantry" "$port"

# "<seconds> <status> <stale?>" of one cached read.
read_summary() {
    local out
    out="$(curl -s -o "$run/summary.json" -w '%{time_total} %{http_code}' --max-time 20 \
        -H "Cookie: $cookie" "$base/api/v1/gpu-summary" || echo "20.000 timeout")"
    if grep -q '"stale_since":"' "$run/summary.json" 2>/dev/null; then
        echo "$out stale"
    else
        echo "$out current"
    fi
}

# "<seconds> <status>" of one launch.
launch() { # NAME
    curl -s -o "$run/launch.json" -w '%{time_total} %{http_code}' --max-time 40 \
        -H "Cookie: $cookie" -H "Origin: $base" -H 'Content-Type: application/json' \
        --data "{\"name\":\"$1\",\"namespace\":\"team-a\",\"image\":\"pytorch/pytorch:2.4.0\",\"gpus\":\"1\"}" \
        "$base/api/v1/jobs" || echo "40.000 timeout"
}

readyz() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/readyz" || echo timeout; }

echo "| when | cached read (s, status, stale?) | launch (s, status) | /readyz |"
echo "|---|---|---|---|"
echo "| before | $(read_summary) | $(launch outage-before) | $(readyz) |"
kill -STOP "$apiserver"
stopped=$SECONDS
trap 'kill -CONT "$apiserver" 2>/dev/null || true; stop_bench' EXIT
for at in 1 5 10 20 30 45 60 90 120; do
    ((at <= outage)) || break
    while ((SECONDS - stopped < at)); do sleep 0.2; done
    write="-"
    ((at == 10 || at == 45)) && write="$(launch "outage-at-$at")"
    echo "| $at s into the outage | $(read_summary) | $write | $(readyz) |"
done
while ((SECONDS - stopped < outage)); do sleep 0.2; done
kill -CONT "$apiserver"
continued=$SECONDS
until [[ "$(readyz)" == 200 ]]; do
    ((SECONDS - continued < 120)) || { echo "outage: not ready 120 s after SIGCONT" >&2; exit 1; }
    sleep 0.2
done
echo "| ready again after SIGCONT | $((SECONDS - continued)) s | | 200 |"
until [[ "$(read_summary)" == *current ]]; do
    ((SECONDS - continued < 120)) || { echo "outage: still stale 120 s after SIGCONT" >&2; exit 1; }
    sleep 0.5
done
echo "| current again after SIGCONT | $((SECONDS - continued)) s | $(launch outage-after) | $(readyz) |"
echo "outage: Gantry RSS at the end: $(awk '/^VmRSS:/ { printf "%d MiB", $2 / 1024 }' "/proc/$gantry_pid/status")"
