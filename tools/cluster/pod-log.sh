#!/usr/bin/env bash
# Writes the container logs that kwok serves for every fake pod (see the ClusterLogs in
# up.sh), in the CRI log format a kubelet reads: DIR/training.log (a training run's
# banner, then a progress line every two seconds) and DIR/serving.log (an inference
# server's request lines), so `logs --follow` has something live to show.
#
#   tools/cluster/pod-log.sh DIR
set -euo pipefail
dir="$1"
line() { # FILE TEXT
    printf '%s stdout F %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$2" >>"$dir/$1"
}

# Written again every 100 progress lines (as a run resuming from a checkpoint would), so a
# tail of 500 lines, what a job's page shows, holds it however long the cluster has run.
banner() {
    line training.log "Starting training: model=llama-3-8b world_size=8 precision=bf16"
    line training.log "Loaded dataset: 1,048,576 samples, 4,096 steps per epoch"
    line training.log "NCCL initialised on 8 x NVIDIA H100 80GB HBM3"
}

banner
line serving.log "INFO: Started server process; model=meta-llama/Llama-3.1-8B-Instruct max_model_len=8192"
line serving.log "INFO: Uvicorn running on http://0.0.0.0:8000"
step=0
while :; do
    step=$((step + 10))
    ((step % 1000 != 0)) || banner
    loss="$(awk -v s="$step" 'BEGIN { printf "%.4f", 0.9 + 2.5 / (1 + s / 500) }')"
    line training.log "epoch $((step / 4096 + 1)) step $step loss=$loss lr=3.0e-04 tokens/s=51234 gpu_mem=71.2GiB"
    line serving.log "INFO: 10.0.0.$((step % 200 + 20)):5$((step % 9000 + 1000)) \"POST /v1/chat/completions HTTP/1.1\" 200 OK"
    sleep 2
done
