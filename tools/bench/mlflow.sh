#!/usr/bin/env bash
# The model registry under MLflow clients' load (no cluster needed): log-batch of 1,000
# metrics, 50 clients logging a metric per step, a 1 GiB artifact up and down (Gantry's
# memory before and at its peak), searches over 10,000 registered models with 100,000
# versions, and the page of a run with 100,000 points of one metric. Prints the figures; the
# client is tools/bench/mlflow.py in the MLflow client's virtual environment (tools/setup.sh).
#
#   tools/bench/mlflow.sh                    # the release build (built here)
#   GANTRY_BIN=path/to/gantry ARTIFACT_MIB=1024 tools/bench/mlflow.sh
#   ARTIFACTS=s3 ONLY=artifact tools/bench/mlflow.sh   # the artifact on SeaweedFS's S3
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# ARTIFACTS=s3: artifacts go to the S3-compatible server of the tests (tools/s3).
store=()
if [[ "${ARTIFACTS:-local}" == s3 ]]; then
    [[ -n "${GANTRY_TEST_S3_ENDPOINT:-}" ]] || exec "$root/tools/s3/with-s3.sh" "$0" "$@"
    store=(GANTRY_ARTIFACT_STORE="s3://$GANTRY_TEST_S3_BUCKET/bench"
        GANTRY_ARTIFACT_S3_ENDPOINT="$GANTRY_TEST_S3_ENDPOINT"
        GANTRY_ARTIFACT_S3_ACCESS_KEY_ID="$GANTRY_TEST_S3_ACCESS_KEY_ID"
        GANTRY_ARTIFACT_S3_SECRET_ACCESS_KEY="$GANTRY_TEST_S3_SECRET_ACCESS_KEY")
fi
gantry="$(release_gantry)"
run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench.XXXXXX")"
gantry_pid=
# Waited for, so that the port is free when the script returns (a next run binds it at once).
trap '[[ -z "$gantry_pid" ]] || { kill "$gantry_pid" 2>/dev/null; wait "$gantry_pid" 2>/dev/null; } || true; rm -rf "$run"' EXIT

port=3990
base="http://127.0.0.1:$port"
password="bench admin password"
env "${store[@]}" GANTRY_DATA_DIR="$run/data" GANTRY_LISTEN_ADDR="127.0.0.1:$port" \
    KUBECONFIG="$run/none" GANTRY_ADMIN_PASSWORD="$password" RUST_LOG=warn \
    "$gantry" >"$run/gantry.log" 2>&1 &
gantry_pid=$!
deadline=$((SECONDS + 60))
until curl -fsS "$base/healthz" >/dev/null 2>&1; do
    kill -0 "$gantry_pid" 2>/dev/null || { echo "bench: Gantry exited ($run/gantry.log)" >&2; exit 1; }
    ((SECONDS < deadline)) || { echo "bench: Gantry did not start ($run/gantry.log)" >&2; exit 1; }
    sleep 0.2
done

# A data scientist of namespace `bench`, and an API token of theirs.
admin="$(admin_cookie "$base" "$password")"
curl -fsS -o /dev/null -H "Cookie: $admin" -H "Origin: $base" \
    --data "username=bench&display_name=Bench&password=bench+long+password&role=data-scientist&namespaces=bench" \
    "$base/api/accounts/create"
user="$(curl -fsS -c - -X POST -H "Origin: $base" --data "username=bench&password=bench+long+password" "$base/api/login" |
    awk '$6 == "gantry_session" { print $6 "=" $7 }')"
token="$(curl -fsS -H "Cookie: $user" -H "Origin: $base" --data "name=bench&days=" "$base/api/tokens/create" | tr -d '"')"

GANTRY_URL="$base" GANTRY_TOKEN="$token" GANTRY_PID="$gantry_pid" GANTRY_DB="$run/data/gantry.db" \
    "$GANTRY_MLFLOW_PYTHON" "$root/tools/bench/mlflow.py"
