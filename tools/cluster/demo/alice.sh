#!/usr/bin/env bash
# The demo's data scientist: once the demo's Gantry answers, makes sure it has the account
# alice (data scientist in team-a, whose RBAC fleet/users.yaml binds) and an API token of
# hers, and prints how to use them, so that plain MLflow code can log to the demo at once
# (README, "Models and experiment tracking"). Her password and token are made once and kept,
# readable only by their owner, beside the demo's database; a token that no longer works (a
# new database, expired) is replaced. make demo starts it in the background.
#
#   tools/cluster/demo/alice.sh BASE_URL DEMO_DIR
set -euo pipefail

base="$1"
dir="$2"
deadline=$((SECONDS + 300))
until curl -fsS "$base/healthz" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "demo: Gantry did not answer at $base; no MLflow token made" >&2; exit 1; }
    sleep 1
done

umask 077
[[ -s "$dir/alice-password" ]] || openssl rand -hex 12 >"$dir/alice-password"
password="$(cat "$dir/alice-password")"
works() {
    [[ -s "$dir/alice-token" ]] &&
        curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$dir/alice-token")" \
            "$base/api/2.0/mlflow/experiments/search?max_results=1"
}
if ! works; then
    session() { # USERNAME PASSWORD
        curl -fsS -c - -X POST -H "Origin: $base" --data-urlencode "username=$1" \
            --data-urlencode "password=$2" "$base/api/login" | awk '$6 == "gantry_session" { print $6 "=" $7 }'
    }
    admin="$(session admin "$(cat "$dir/admin-password")")"
    # 200, or 409 when this database already has her (made by an earlier demo).
    status="$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $admin" -H "Origin: $base" \
        --data-urlencode "username=alice" --data-urlencode "display_name=Alice" \
        --data-urlencode "password=$password" --data-urlencode "role=data-scientist" \
        --data-urlencode "namespaces=team-a" "$base/api/accounts/create")"
    [[ "$status" == 200 || "$status" == 409 ]] || { echo "demo: making the account alice answered $status" >&2; exit 1; }
    alice="$(session alice "$password")"
    [[ -n "$alice" ]] || { echo "demo: alice could not log in (was her password changed?)" >&2; exit 1; }
    curl -fsS -H "Cookie: $alice" -H "Origin: $base" --data "name=demo-mlflow&days=30" \
        "$base/api/tokens/create" | tr -d '"' >"$dir/alice-token.tmp"
    mv "$dir/alice-token.tmp" "$dir/alice-token"
fi

printf '\nalice, a data scientist in team-a: password in %s/alice-password. MLflow as her:\n' "$dir"
# shellcheck disable=SC2016 # for the user's shell to expand
printf '  export MLFLOW_TRACKING_URI=%s MLFLOW_TRACKING_TOKEN=$(cat %s/alice-token)\n\n' "$base" "$dir"
