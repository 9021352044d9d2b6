#!/usr/bin/env bash
# Charts against a Prometheus that holds DAYS days of NODES × 8 GPUs, backfilled with
# promtool from the simulator's `backfill` (a week of a 5,000-GPU fleet, without waiting a
# week). Prints the p50/p95 of a node's 24 h charts (8 GPUs) and of a 64-GPU job's, through
# Gantry's JSON API and as one SVG, every view a new window so that no answer is reused,
# beside Prometheus' own execution time for the same queries (its query log); then 50
# clients on one node page for 60 s, and the range queries Prometheus answered meanwhile.
#
#   tools/bench/metrics.sh                      # 625 nodes (5,000 GPUs), 7 days, 60 s
#   GANTRY_BIN=path/to/gantry NODES=125 DAYS=1 tools/bench/metrics.sh
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nodes="${NODES:-625}" days="${DAYS:-7}" interval="${INTERVAL:-60}" views="${VIEWS:-20}"
port=3983 prom_port=9491
command -v wrk >/dev/null || { echo "bench: wrk is missing; make setup installs it" >&2; exit 1; }
start_seeded
# The node charted must be one the inventory knows: the backfill names its nodes as the
# scale seed does.
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale 1 1
bin="$("$root/tools/cluster/build.sh")"
(cd "$root" && cargo build --release -q -p gantry-gpu-sim)
sim="${CARGO_TARGET_DIR:-$root/target}/release/gantry-gpu-sim"

# Blocks of 6 h, aligned as promtool cuts them, and the part of the current one until now.
six=21600 now=$(($(date +%s) / 60 * 60))
first=$((now / six * six - days * 86400))
mkdir -p "$run/tsdb"
started=$SECONDS lines=0
# promtool uses one core: two chunks at a time (each file is about 2 GB at 625 nodes).
for ((from = first; from < now; from += six)); do
    to=$((from + six > now ? now : from + six))
    "$sim" backfill --nodes "$nodes" --prefix scale-gpu- --from "$from" --to "$to" \
        --interval "$interval" >"$run/chunk-$from.om"
    lines=$((lines + $(wc -l <"$run/chunk-$from.om")))
    while (($(jobs -rp | wc -l) >= 2)); do wait -n; done
    ("$bin/promtool" tsdb create-blocks-from openmetrics --max-block-duration=6h \
        "$run/chunk-$from.om" "$run/tsdb" >/dev/null && rm "$run/chunk-$from.om") &
done
while (($(jobs -rp | wc -l) > 0)); do wait -n; done
echo "bench: backfilled $nodes nodes × 8 GPUs × 4 metrics over $days days, a sample every" \
    "${interval} s: $lines lines in $((SECONDS - started)) s; TSDB $(du -sh "$run/tsdb" | cut -f1)"

printf 'global:\n  query_log_file: %s\n' "$run/query.log" >"$run/prometheus.yml"
touch "$run/query.log"
# No compaction while measuring: the backfilled blocks are already as long as allowed.
"$bin/prometheus" --config.file="$run/prometheus.yml" --storage.tsdb.path="$run/tsdb" \
    --storage.tsdb.retention.time=30d --storage.tsdb.max-block-duration=6h \
    --web.listen-address="127.0.0.1:$prom_port" >"$run/prometheus.log" 2>&1 &
prom_pid=$!
trap 'kill "$prom_pid" 2>/dev/null || true; stop_bench' EXIT
prom="http://127.0.0.1:$prom_port"
deadline=$((SECONDS + 120))
until curl -fsS "$prom/-/ready" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "bench: Prometheus not ready ($run/prometheus.log)" >&2; exit 1; }
    sleep 0.5
done
echo "bench: Prometheus holds $(curl -fsS "$prom/api/v1/query" --data-urlencode \
    "query=count(count by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL))" --data-urlencode "time=$((now - 60))" |
    sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)"\].*/\1/p') GPUs"

$kubectl create -f - >/dev/null <<'EOF'
{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bench-train", "namespace": "team-a"},
 "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
   "containers": [{"name": "train", "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime"}]}}}}
EOF
export GANTRY_PROMETHEUS_URL="$prom"
start_gantry "$gantry" "$port"
until curl -fsS -o /dev/null -H "Cookie: $cookie" "$base/api/v1/jobs/team-a/bench-train/metrics?range=15m"; do
    sleep 0.5
done

# VIEWS views of PATH, each 24 h ending 5 minutes before the last one's end (across all
# calls, so that no view reuses an answer Gantry keeps); prints Gantry's p50/p95 and, from
# the query log, Prometheus' execution time of the queries they made.
shift=0
views() { # LABEL PATH
    local before i to times
    before=$(wc -l <"$run/query.log")
    times="$run/times.txt"
    : >"$times"
    for ((i = 1; i <= views; i++)); do
        shift=$((shift + 1))
        to=$((now - 300 * shift))
        curl -fsS -o /dev/null -w '%{time_total}\n' -H "Cookie: $cookie" \
            "$base$2from=$((to - 86400))&to=$to" >>"$times"
    done
    tail -n +"$((before + 1))" "$run/query.log" | python3 -c '
import json, sys
label, times = sys.argv[1], sorted(float(t) for t in open(sys.argv[2]))
logged = [json.loads(l) for l in sys.stdin]
execs = sorted(q["stats"]["timings"]["execTotalTime"] for q in logged if q["params"].get("step"))
pct = lambda xs, p: xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else float("nan")
print(f"bench: {label}: Gantry p50 {pct(times, .5) * 1000:.0f} ms, p95 {pct(times, .95) * 1000:.0f} ms "
      f"over {len(times)} views; Prometheus {len(execs)} range queries, "
      f"exec p50 {pct(execs, .5) * 1000:.0f} ms, p95 {pct(execs, .95) * 1000:.0f} ms")
' "$1" "$times"
}

views "node, 24 h, 4 charts (JSON)" "/api/v1/nodes/scale-gpu-0000/metrics?"
views "node, 24 h, utilisation.svg" "/api/v1/nodes/scale-gpu-0000/metrics/utilisation.svg?"
views "64-GPU job, 24 h, 2 charts (JSON)" "/api/v1/jobs/team-a/bench-train/metrics?"
views "64-GPU job, 24 h, utilisation.svg" "/api/v1/jobs/team-a/bench-train/metrics/utilisation.svg?"
curl -fsS -H "Cookie: $cookie" "$base/api/v1/jobs/team-a/bench-train/metrics?range=24h" |
    python3 -c 'import json, sys; c = json.load(sys.stdin)["charts"][0]["series"]
print("bench: the job chart has %d series of up to %d points" % (len(c), max(len(s["points"]) for s in c)))'

before=$(wc -l <"$run/query.log")
echo "bench: wrk -c50 -t2 -d60s /api/v1/nodes/scale-gpu-0000/metrics?range=1h"
wrk -c50 -t2 -d60s --latency -H "Cookie: $cookie" "$base/api/v1/nodes/scale-gpu-0000/metrics?range=1h" |
    grep -E "^ +(50|99)%|requests in|Non-2xx"
# Instant queries (the label set's, every 5 minutes) are logged with step 0; the page's are
# the ones about its node (the others measure the seeded jobs that ended meanwhile).
tail -n +"$((before + 1))" "$run/query.log" | python3 -c '
import json, sys
asked = [json.loads(l)["params"] for l in sys.stdin]
asked = [(q["query"], q["start"], q["end"]) for q in asked if q.get("step")]
page = [q for q in asked if "scale-gpu-0000" in q[0]]
windows = {(start, end) for _, start, end in page}
print(f"bench: Prometheus answered {len(page)} range queries for the page during those 60 s, "
      f"for {len(windows)} windows (a 60 s run spans 5 steps of 15 s; a node page is 4 "
      f"queries), {len(page) - len(set(page))} asked twice; {len(asked) - len(page)} others")
'
