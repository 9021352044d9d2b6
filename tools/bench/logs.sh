#!/usr/bin/env bash
# Downloading a big job's logs: a 40-pod Job whose pods each serve a 10 MiB log (kwok serves
# the training log file to every pod outside ml-serving; see tools/cluster/up.sh). Prints
# the bytes downloaded, the time, and Gantry's resident memory before and at its peak.
#
#   tools/bench/logs.sh              # the release build (built here)
#   GANTRY_BIN=path/to/gantry PODS=40 LOG_MIB=10 tools/bench/logs.sh
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pods="${PODS:-40}"
log_mib="${LOG_MIB:-10}"
port=3980
start_seeded

# One log file for every pod: LOG_MIB of training lines in the CRI format kwok reads.
log="$run/cluster/pod-logs/training.log"
line="$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) stdout F epoch 1 step 100 loss=1.2345 lr=3.0e-04 tokens/s=51234 gpu_mem=71.2GiB progress ██████████"
awk -v line="$line" -v bytes="$((log_mib * 1024 * 1024))" \
    'BEGIN { n = int(bytes / (length(line) + 1)); for (i = 0; i < n; i++) print line }' >"$log.big"
mv "$log.big" "$log"

start_gantry "$gantry" "$port"

$kubectl apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: { name: big-logs, namespace: team-a }
spec:
  parallelism: $pods
  completions: $pods
  template:
    metadata:
      annotations: { pod-complete.stage.kwok.x-k8s.io/delay: 30m }
    spec:
      restartPolicy: Never
      containers: [{ name: train, image: pytorch/pytorch:2.4.0, resources: { requests: { cpu: 10m } } }]
EOF
deadline=$((SECONDS + 300))
until [[ "$($kubectl get pods -n team-a -l job-name=big-logs --field-selector=status.phase=Running -o name | wc -l)" -ge "$pods" ]]; do
    ((SECONDS < deadline)) || { echo "logs: $pods pods not running after 300 s" >&2; exit 1; }
    sleep 1
done

rss() { awk "/^$1:/ { printf \"%d\", \$2 / 1024 }" "/proc/$gantry_pid/status"; }
before="$(rss VmRSS)"
started=$SECONDS
bytes="$(curl -fsS -H "Cookie: $cookie" "$base/api/v1/jobs/team-a/big-logs/logs.txt" | wc -c)"
took=$((SECONDS - started))
echo "| pods | log per pod | downloaded | time | RSS before | RSS peak (VmHWM) | RSS after |"
echo "|---|---|---|---|---|---|---|"
echo "| $pods | $log_mib MiB | $((bytes / 1024 / 1024)) MiB | ${took} s | ${before} MiB | $(rss VmHWM) MiB | $(rss VmRSS) MiB |"
