#!/usr/bin/env bash
# Stops the local cluster started by up.sh in RUN_DIR, by the PIDs it recorded, and
# waits until every process is gone. Keeps the run folder (logs, etcd data).
#
#   tools/cluster/down.sh RUN_DIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 1 ]] || {
    echo "usage: $0 RUN_DIR" >&2
    exit 2
}
[[ -d "$1/pids" ]] || exit 0
run="$(cd "$1" && pwd)"
# shellcheck source=tools/cluster/lib.sh
source "$here/lib.sh"

# Reverse start order: kwok and the controllers first, etcd (which holds the state) last.
stopped=()
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c="${COMPONENTS[i]}"
    if component_alive "$c" "$run"; then
        kill -TERM "$(<"$run/pids/$c.pid")" 2>/dev/null || true
        for _ in $(seq 100); do
            component_alive "$c" "$run" || break
            sleep 0.1
        done
        if component_alive "$c" "$run"; then
            echo "cluster: $c ignored SIGTERM for 10s; killing it" >&2
            kill -KILL "$(<"$run/pids/$c.pid")" 2>/dev/null || true
            while component_alive "$c" "$run"; do sleep 0.1; done
        fi
        stopped+=("$c")
    fi
    rm -f "$run/pids/$c.pid"
done
((${#stopped[@]} == 0)) || echo "cluster: stopped ${stopped[*]} in $run" >&2
