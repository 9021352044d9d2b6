#!/usr/bin/env bash
# Runs COMMAND with a fresh local cluster, seeded with the fleet, and always stops the
# cluster afterwards, whatever COMMAND does. The test command runs its tests this way.
# COMMAND sees GANTRY_TEST_KUBECONFIG (the admin's; Gantry's own, gantry.kubeconfig, is
# beside it), GANTRY_TEST_CLUSTER_BIN (the built binaries: promtool and prometheus for tests
# of their own), GANTRY_TEST_KUBECTL (the built kubectl, for tests that act as a person at a
# terminal would), GANTRY_TEST_PROMETHEUS_URL (the cluster's Prometheus) and
# GANTRY_TEST_REQUIRE_CLUSTER=1 (so cluster tests fail instead of skipping). The run folder,
# with every component's log, is kept when COMMAND fails and removed when it passes.
#
#   tools/cluster/with-cluster.sh COMMAND...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="$(mktemp -d "${TMPDIR:-/tmp}/gantry-cluster.XXXXXX")"
finish() {
    local status=$?
    "$here/down.sh" "$run"
    if ((status == 0)); then
        rm -rf "$run"
    else
        echo "cluster: logs kept in $run/logs" >&2
    fi
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

kubeconfig="$("$here/up.sh" "$run" | tail -n 1)"
"$here/seed.sh" "$kubeconfig"
export GANTRY_TEST_KUBECONFIG="$kubeconfig" GANTRY_TEST_REQUIRE_CLUSTER=1
GANTRY_TEST_PROMETHEUS_URL="http://127.0.0.1:$(awk -F= '$1 == "prometheus" { print $2 }' "$run/ports")"
export GANTRY_TEST_PROMETHEUS_URL
GANTRY_TEST_CLUSTER_BIN="$("$here/build.sh")"
GANTRY_TEST_KUBECTL="$GANTRY_TEST_CLUSTER_BIN/kubectl"
export GANTRY_TEST_CLUSTER_BIN GANTRY_TEST_KUBECTL
"$@"
