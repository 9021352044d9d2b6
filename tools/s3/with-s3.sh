#!/usr/bin/env bash
# Runs COMMAND beside a private SeaweedFS (built by build.sh): master, volume, filer and S3
# gateway in one `weed server` process, on free loopback ports, with data in a temporary
# directory, an access key made up for this run and one bucket; always stopped and removed
# afterwards, whatever COMMAND does. COMMAND sees GANTRY_TEST_S3_ENDPOINT,
# GANTRY_TEST_S3_BUCKET, GANTRY_TEST_S3_ACCESS_KEY_ID, GANTRY_TEST_S3_SECRET_ACCESS_KEY and
# GANTRY_TEST_REQUIRE_S3=1 (so the S3 tests fail instead of skipping).
#
#   tools/s3/with-s3.sh COMMAND...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/cluster/lib.sh
. "$here/../cluster/lib.sh"
bin="$("$here/build.sh")"

run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-s3.XXXXXX")"
mkdir -p "$run/data" "$run/logs" "$run/pids"
finish() {
    local status=$?
    if [[ -f "$run/pids/weed.pid" ]]; then
        local pid
        pid="$(<"$run/pids/weed.pid")"
        # Its data is thrown away: 5 s to stop (its filer takes about 10 to say goodbye),
        # then killed; `wait` reaps it without the shell's "Killed" notice.
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if ((status == 0)); then
        rm -rf "$run"
    else
        echo "s3: its log is kept in $run/logs" >&2
    fi
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

ports=()
for _ in 1 2 3 4 5 6 7 8; do ports+=("$(free_port "${ports[@]}")"); done
access_key="gantry-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
secret_key="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$run/s3.json" <<JSON
{"identities": [{"name": "gantry-test",
  "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
# Small volumes: the tests write megabytes, not the 30 GB a production volume reserves. No
# Iceberg or Lance listeners: they would take fixed ports (8181, 9101).
start_component weed "$run" "$bin/weed" server -dir="$run/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" -master.volumeSizeLimitMB=64 \
    -volume.port="${ports[2]}" -volume.port.grpc="${ports[3]}" -volume.max=32 \
    -filer -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" \
    -s3 -s3.port="${ports[6]}" -s3.port.grpc="${ports[7]}" -s3.config="$run/s3.json" \
    -s3.port.iceberg=0 -s3.port.lance=0
endpoint="http://127.0.0.1:${ports[6]}"
bucket=gantry-test
signed() { # curl's arguments: a request signed with the run's key
    curl -sf --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access_key:$secret_key" "$@"
}
# Ready once the gateway answers a signed request (creating the bucket) and an object can be
# written (the volume server has joined the master). Each try is bounded. NB: an upload with
# `-T`: curl's signature of a `--data` body is refused by SeaweedFS.
wait_until weed "$run" 60 signed -X PUT "$endpoint/$bucket"
echo ready >"$run/ready.txt"
wait_until weed "$run" 60 signed -T "$run/ready.txt" "$endpoint/$bucket/.ready"
signed -X DELETE "$endpoint/$bucket/.ready" >/dev/null
echo "s3: SeaweedFS at $endpoint, bucket $bucket" >&2
export GANTRY_TEST_S3_ENDPOINT="$endpoint" GANTRY_TEST_S3_BUCKET="$bucket" \
    GANTRY_TEST_S3_ACCESS_KEY_ID="$access_key" GANTRY_TEST_S3_SECRET_ACCESS_KEY="$secret_key" \
    GANTRY_TEST_REQUIRE_S3=1
"$@"
