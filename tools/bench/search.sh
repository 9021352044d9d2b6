#!/usr/bin/env bash
# Hostile node searches against the GPU inventory: NODES fake GPU nodes, then clients that
# send searches of the longest allowed shape (8 words, 255 bytes, all different so that no
# answer is reused) as fast as they can. Prints the p50/p99 of other requests (the summary
# and the nodes table's first page) before and while the searches run, the searches' own
# rate and latency, what a 60 KB search gets, and Gantry's memory.
#
#   tools/bench/search.sh                  # the release build (built here), 2,000 nodes
#   GANTRY_BIN=path/to/gantry NODES=5000 tools/bench/search.sh
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nodes="${NODES:-2000}"
port=3981
command -v wrk >/dev/null || { echo "bench: wrk is missing; make setup installs it" >&2; exit 1; }
# The fleet's seed applies Gantry's RBAC too; the scale nodes come on top.
start_seeded
"$root/tools/cluster/seed.sh" "$kubeconfig" --scale "$nodes" 0
start_gantry "$gantry" "$port"

rss_mib() { awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$gantry_pid/status"; }
until curl -fsS "$base/metrics" | awk -v n="$nodes" '$1 == "gantry_inventory_gpu_nodes" && $2 >= n { ok = 1 } END { exit !ok }'; do
    sleep 1
done
echo "bench: Gantry holds $nodes scale nodes and the fleet; RSS $(rss_mib) MiB"

cat >"$run/search.lua" <<'EOF'
-- Every request a new search: 8 words of 31 random characters (255 bytes with the spaces),
-- none of which matches, so each one is a full pass over every node's name, model and labels.
local chars = "abcdefghijklmnopqrstuvwxyz0123456789-."
math.randomseed(12)
local function word()
  local t = {}
  for i = 1, 31 do
    local k = math.random(#chars)
    t[i] = chars:sub(k, k)
  end
  return table.concat(t)
end
request = function()
  local words = {}
  for i = 1, 8 do words[i] = word() end
  return wrk.format("GET", "/api/v1/gpu-nodes?search=" .. table.concat(words, "+"))
end
EOF

others() { # WHEN
    for path in "/api/v1/gpu-summary" "/api/v1/gpu-nodes?page=0"; do
        # wrk counts refusals as answers: a request that fails here stops the benchmark.
        curl -fsS -o /dev/null -H "Cookie: $cookie" "$base$path"
        echo "bench: wrk -c10 -t1 -d15s $path ($1)"
        wrk -c10 -t1 -d15s --latency -H "Cookie: $cookie" "$base$path" |
            grep -E "^ +(50|99)%|Requests/sec|Non-2xx"
    done
}

others "no searches running"
echo "bench: 16 clients searching for 40 s; meanwhile:"
wrk -c16 -t1 -d40s --latency -s "$run/search.lua" -H "Cookie: $cookie" "$base" >"$run/search.txt" &
searches=$!
curl -fsS -o /dev/null -H "Cookie: $cookie" "$base/api/v1/gpu-nodes?search=a+b+c+d+e+f+g+h"
sleep 3
others "while the searches run"
wait "$searches"
echo "bench: the searches themselves:"
grep -E "^ +(50|99)%|Requests/sec|requests in|Non-2xx" "$run/search.txt"
echo "bench: Gantry RSS after the searches: $(rss_mib) MiB"

long="$(head -c 60000 /dev/zero | tr '\0' 'x')"
echo "bench: a 60 KB search: $(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' \
    -H "Cookie: $cookie" "$base/api/v1/gpu-nodes?search=$long")"
