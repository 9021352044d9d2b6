# shellcheck shell=bash
# Helpers shared by up.sh, down.sh and seed.sh (sourced, not run).
# A component is a process started in the background with its output in
# RUN_DIR/logs/NAME.log and its PID in RUN_DIR/pids/NAME.pid.

# A TCP port no socket uses, not among the arguments (ports already handed out). Drawn
# below Linux's ephemeral range (32768 and up), where outgoing connections take their local
# ports, so a port found free here is not taken a moment later by some client.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 12000))
        [[ " $* " == *" $port "* ]] && continue
        [[ -z "$(ss -Htan "sport = :$port")" ]] && break
    done
    echo "$port"
}

# Whether the PID in RUN_DIR/pids/NAME.pid is alive and still ours: every component's
# command line names the run folder, so a PID reused by another process never matches.
component_alive() { # NAME RUN_DIR
    local pidfile="$2/pids/$1.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$2"
}

COMPONENTS=(pod-log etcd kube-apiserver kube-controller-manager kube-scheduler kwok gpu-sim prometheus kserve)

cluster_running() { # RUN_DIR
    local c
    for c in "${COMPONENTS[@]}"; do
        component_alive "$c" "$1" || return 1
    done
}

# setsid: a Ctrl-C meant for whatever runs in the foreground (the demo's Gantry) must not
# reach the cluster, which outlives it.
start_component() { # NAME RUN_DIR COMMAND...
    local name="$1" run="$2"
    shift 2
    setsid "$@" >"$run/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$run/pids/$name.pid"
}

# Polls COMMAND once a second for at most SECONDS; fails with the component's log tail
# if it does not succeed in time or the component exits. NB: "exits" is `kill -0`, not
# component_alive: a process caught in the middle of its exec shows an empty command line.
wait_until() { # NAME RUN_DIR SECONDS COMMAND...
    local name="$1" run="$2" limit="$3" waited=0
    shift 3
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$(<"$run/pids/$name.pid")" 2>/dev/null; then
            echo "cluster: $name exited while starting; last lines of $run/logs/$name.log:" >&2
            tail -n 20 "$run/logs/$name.log" >&2
            return 1
        fi
        if ((waited >= limit)); then
            echo "cluster: $name did not come up within ${limit}s; last lines of $run/logs/$name.log:" >&2
            tail -n 20 "$run/logs/$name.log" >&2
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

# Waits (30 s at most) until each CRD named is Established; `kubectl` is the caller's
# function. Right after an apply a CRD has no conditions yet, on which `kubectl wait` fails
# at once instead of waiting, hence the loop.
established() { # crd/NAME...
    local deadline=$((SECONDS + 30))
    until kubectl wait --for=condition=Established --timeout=5s "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { kubectl wait --for=condition=Established --timeout=1s "$@"; return 1; }
        sleep 0.2
    done
}
