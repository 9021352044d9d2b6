# shellcheck shell=bash
# What the benchmark scripts share; sourced, not run.
#
# `start_cluster` starts a local cluster in a temporary folder, stopped with everything else
# when the script exits; it sets root, run, kubeconfig and kubectl.
# `start_bench BENCH PORT` builds Gantry (release) and the benchmark client
# `server/benches/BENCH.rs`, starts a cluster seeded with the fleet and a `bench` namespace,
# starts Gantry on PORT against it (`start_gantry`) and logs in as the first admin; it also
# sets bench_client, gantry_pid, base and cookie. `admin_cookie` logs in to a Gantry.

start_cluster() {
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench.XXXXXX")"
    gantry_pid=
    trap stop_bench EXIT
    kubeconfig="$("$root/tools/cluster/up.sh" "$run/cluster" | tail -n 1)"
    kubectl="$("$root/tools/cluster/build.sh")/kubectl --kubeconfig=$kubeconfig"
}

start_bench() { # BENCH PORT
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    local target="${CARGO_TARGET_DIR:-$root/target}"
    cd "$root" || return
    # Optimised: the bench profile is the release one.
    cargo build --release -q -p gantry-server --bin gantry
    # The bench's own executable: cargo also reports the `gantry` binary it builds for it.
    bench_client="$(cargo bench -q -p gantry-server --bench "$1" --no-run --message-format=json 2>/dev/null |
        grep '"kind":\["bench"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
    [[ -x "$bench_client" ]] || { echo "bench: could not build the benchmark client" >&2; exit 1; }

    start_cluster
    "$root/tools/cluster/seed.sh" "$kubeconfig"
    $kubectl create namespace bench >/dev/null

    start_gantry "$target/release/gantry" "$2"
}

# `start_gantry BIN PORT` starts Gantry (BIN) on PORT against the (seeded) cluster, waits until it is
# ready and logs in as the first admin; it sets gantry_pid, base and cookie.
start_gantry() { # BIN PORT
    base="http://127.0.0.1:$2"
    local password="bench admin password"
    # As its own ServiceAccount (seed.sh writes its kubeconfig), not the cluster's admin.
    GANTRY_DATA_DIR="$run/data" GANTRY_LISTEN_ADDR="127.0.0.1:$2" \
        KUBECONFIG="$(dirname "$kubeconfig")/gantry.kubeconfig" \
        GANTRY_ADMIN_PASSWORD="$password" RUST_LOG=warn "$1" >"$run/gantry.log" 2>&1 &
    gantry_pid=$!
    local deadline=$((SECONDS + 120))
    until curl -fsS "$base/readyz" >/dev/null 2>&1; do
        kill -0 "$gantry_pid" 2>/dev/null || { echo "bench: Gantry exited ($run/gantry.log)" >&2; exit 1; }
        ((SECONDS < deadline)) || { echo "bench: Gantry not ready after 120 s ($run/gantry.log)" >&2; exit 1; }
        sleep 0.2
    done
    # shellcheck disable=SC2034 # for the scripts that source this file
    cookie="$(admin_cookie "$base" "$password")"
}

# `admin_cookie BASE PASSWORD` logs in to the Gantry at BASE as the first admin and prints the
# session's Cookie header value.
admin_cookie() {
    curl -fsS -c - -X POST -H "Origin: $1" --data "username=admin&password=${2// /+}" "$1/api/login" |
        awk '$6 == "gantry_session" { print $6 "=" $7 }'
}

# `start_seeded` is what the single-Gantry benchmarks begin with: picks Gantry's binary
# (`release_gantry`; sets gantry), starts a cluster (`start_cluster`) and seeds the fleet.
start_seeded() {
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    # shellcheck disable=SC2034 # for the scripts that source this file
    gantry="$(release_gantry)"
    start_cluster
    "$root/tools/cluster/seed.sh" "$kubeconfig"
}

# `release_gantry` is GANTRY_BIN, or the release build (built now).
release_gantry() {
    if [[ -n "${GANTRY_BIN:-}" ]]; then
        echo "$GANTRY_BIN"
        return
    fi
    (cd "$root" && cargo build --release -q -p gantry-server --bin gantry)
    echo "${CARGO_TARGET_DIR:-$root/target}/release/gantry"
}

stop_bench() {
    # Waited for, so that its port is free when the script returns.
    [[ -z "$gantry_pid" ]] || { kill "$gantry_pid" 2>/dev/null; wait "$gantry_pid" 2>/dev/null; } || true
    "$root/tools/cluster/down.sh" "$run/cluster"
    rm -rf "$run"
}
