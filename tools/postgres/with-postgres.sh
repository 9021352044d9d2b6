#!/usr/bin/env bash
# Runs COMMAND beside a private PostgreSQL server (Debian's `postgresql` package): a new
# cluster made by initdb in a temporary directory, listening on a free loopback port, and
# always stopped and removed afterwards, whatever COMMAND does. COMMAND sees
# GANTRY_TEST_POSTGRES_URL, a superuser URL on the `postgres` database, from which each
# integration test's server gets a database of its own.
#
#   tools/postgres/with-postgres.sh COMMAND...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/cluster/lib.sh
. "$here/../cluster/lib.sh"

bin="${GANTRY_POSTGRES_BIN:-$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)}"
[ -x "$bin/postgres" ] || { echo "postgres: no server binaries (apt install postgresql, or set GANTRY_POSTGRES_BIN)" >&2; exit 1; }

run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-postgres.XXXXXX")"
# The server refuses to run as root: there, it runs as the package's `postgres` user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$run"
    as_owner=(runuser -u postgres --)
fi
finish() {
    local status=$?
    "${as_owner[@]}" "$bin/pg_ctl" -D "$run/data" stop -m immediate >/dev/null 2>&1 || true
    if ((status == 0)); then
        rm -rf "$run"
    else
        echo "postgres: its log is kept in $run/log" >&2
    fi
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2119 # no ports handed out yet
port="$(free_port)"
"${as_owner[@]}" "$bin/initdb" -D "$run/data" -U gantry --auth=trust -E UTF8 --no-sync >/dev/null
# fsync off: a test database is thrown away, and the tests are not about durability.
"${as_owner[@]}" "$bin/pg_ctl" -D "$run/data" -l "$run/log" -w -t 30 start \
    -o "-h 127.0.0.1 -p $port -k $run -c fsync=off -c max_connections=400" >/dev/null
export GANTRY_TEST_POSTGRES_URL="postgres://gantry@127.0.0.1:$port/postgres"
"$@"
