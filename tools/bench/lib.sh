# What the benchmark scripts share; sourced, not run. `start_bench BENCH PORT` builds Gantry
# (release) and the benchmark client `server/benches/BENCH.rs`, starts a local cluster seeded
# with the fleet and a `bench` namespace, starts Gantry on PORT against it and logs in as
# the first admin. It sets root, run, bench_client, kubeconfig, kubectl, gantry_pid, base and
# cookie, and stops everything when the script exits.

start_bench() { # BENCH PORT
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    local target="${CARGO_TARGET_DIR:-$root/target}"
    cd "$root"
    # Optimised: the bench profile is the release one.
    cargo build --release -q -p gantry-server --bin gantry
    bench_client="$(cargo bench -q -p gantry-server --bench "$1" --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
    [[ -x "$bench_client" ]] || { echo "bench: could not build the benchmark client" >&2; exit 1; }

    run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench.XXXXXX")"
    gantry_pid=
    trap stop_bench EXIT

    kubeconfig="$("$root/tools/cluster/up.sh" "$run/cluster" | tail -n 1)"
    "$root/tools/cluster/seed.sh" "$kubeconfig"
    kubectl="$("$root/tools/cluster/build.sh")/kubectl --kubeconfig=$kubeconfig"
    $kubectl create namespace bench >/dev/null

    base="http://127.0.0.1:$2"
    local password="bench admin password"
    GANTRY_DATA_DIR="$run/data" GANTRY_LISTEN_ADDR="127.0.0.1:$2" KUBECONFIG="$kubeconfig" \
        GANTRY_ADMIN_PASSWORD="$password" RUST_LOG=warn "$target/release/gantry" >"$run/gantry.log" 2>&1 &
    gantry_pid=$!
    until curl -fsS "$base/readyz" >/dev/null 2>&1; do sleep 0.2; done
    cookie="$(curl -fsS -c - -X POST -H "Origin: $base" \
        --data "username=admin&password=${password// /+}" "$base/api/login" |
        awk '$6 == "gantry_session" { print $6 "=" $7 }')"
}

stop_bench() {
    [[ -z "$gantry_pid" ]] || kill "$gantry_pid" 2>/dev/null || true
    "$root/tools/cluster/down.sh" "$run/cluster"
    rm -rf "$run"
}
