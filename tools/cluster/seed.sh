#!/usr/bin/env bash
# Seeds a local cluster (see up.sh) with the shared GPU fleet and sample workloads in
# fleet/, or, in scale mode, with N more fake GPU nodes and M pods spread across them.
# Idempotent: what exists already is left as it is.
#
#   tools/cluster/seed.sh KUBECONFIG                  the fleet (demo and tests), and
#                                                     Gantry's own kubeconfig beside
#                                                     KUBECONFIG: gantry.kubeconfig
#   tools/cluster/seed.sh KUBECONFIG --scale N M      N nodes scale-gpu-*, M pods in
#                                                     namespace scale (benchmarks)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/cluster/lib.sh
source "$here/lib.sh"
usage() {
    echo "usage: $0 KUBECONFIG [--scale NODES PODS]" >&2
    exit 2
}
[[ $# -ge 1 ]] || usage
kubeconfig="$1"
shift
bin="$("$here/build.sh")"
kubectl() { "$bin/kubectl" --kubeconfig="$kubeconfig" "$@"; }

started=$SECONDS

# Prints the documents of a multi-document YAML file of KIND (Node or Pod) whose
# objects do not exist yet. Nodes are created, never applied: a Node keeps the status
# it is created with, and later writes to status go through the status subresource
# (where kwok owns the heartbeat), so creating is the one way to give it its GPUs.
missing() { # FILE KIND [NAMESPACE]
    local existing
    existing=" $(kubectl get "$2" ${3:+--namespace="$3"} -o jsonpath='{.items[*].metadata.name}') "
    awk -v existing="$existing" '
        function flush() { if (name != "" && index(existing, " " name " ") == 0) printf "---\n%s", doc; doc = ""; name = "" }
        /^---/ { flush(); next }
        /^  name: / && name == "" { name = $2 }
        { doc = doc $0 "\n" }
        END { flush() }
    ' "$1"
}

# Creates the objects in FILE eight requests at a time: kubectl sends one request per
# object, and eight in parallel keep the API server busy without starving controllers.
create_parallel() { # FILE
    local part
    part="$(mktemp -d -p "$tmp")"
    awk -v dir="$part" '/^---/ { n++ } { print > (dir "/" int((n - 1) / 250) ".yaml") }' "$1"
    find "$part" -name '*.yaml' -print0 |
        xargs -0 -P 8 -I{} "$bin/kubectl" --kubeconfig="$kubeconfig" create -f {} -o name >/dev/null
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Gantry's ServiceAccount (gantry/gantry, in the namespace made before the RBAC, which binds it) and a kubeconfig for it
# with a token from the TokenRequest API, as Gantry has inside a cluster: the demo and the
# tests run Gantry with it, never with the admin certificate. A week's token; every seed
# (each `make demo`) writes a new one.
gantry_identity() {
    kubectl create serviceaccount gantry --namespace=gantry --dry-run=client -o yaml |
        kubectl apply --server-side -f - >/dev/null
    local token server ca out
    token="$(kubectl create token gantry --namespace=gantry --duration=168h)"
    server="$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')"
    ca="$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
    out="$(dirname "$kubeconfig")/gantry.kubeconfig"
    (umask 077 && cat >"$out.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gantry-local
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: gantry
  user:
    token: $token
contexts:
- name: gantry-local
  context:
    cluster: gantry-local
    user: gantry
current-context: gantry-local
EOF
    )
    mv "$out.tmp" "$out"
}

if [[ $# -eq 0 ]]; then
    missing "$here/fleet/nodes.yaml" nodes >"$tmp/nodes.yaml"
    [[ ! -s "$tmp/nodes.yaml" ]] || kubectl create -f "$tmp/nodes.yaml" >/dev/null
    # Gantry's RBAC (the product's own manifest, as a cluster admin would apply it; its
    # leader-election Role lives in Gantry's namespace) and the demo users' bindings.
    kubectl create namespace gantry --dry-run=client -o yaml | kubectl apply --server-side -f - >/dev/null
    kubectl apply --server-side --force-conflicts --field-manager=gantry-seed \
        -f "$here/fleet/workloads.yaml" -f "$here/../../k8s/base/rbac.yaml" -f "$here/fleet/users.yaml" >/dev/null
    gantry_identity
    # Kubeflow's job kinds (stand-in CRDs, see fleet/kubeflow.yaml) and one job of each,
    # with the status their controllers would have written.
    kubectl apply --server-side --field-manager=gantry-seed -f "$here/fleet/kubeflow.yaml" >/dev/null
    established crd/pytorchjobs.kubeflow.org crd/trainjobs.trainer.kubeflow.org
    kubectl apply --server-side --field-manager=gantry-seed -f "$here/fleet/kubeflow-jobs.yaml" >/dev/null
    # prometheus-operator's ServiceMonitor and PrometheusRule CRDs, the real ones (no operator
    # runs): k8s/components/monitoring is validated against their schemas.
    kubectl apply --server-side --field-manager=gantry-seed -f "$("$here/crds.sh")" >/dev/null
    established crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com
    kubectl patch pytorchjob bert-ddp --namespace=team-a --subresource=status --type=merge \
        -p '{"status":{"conditions":[{"type":"Created","status":"True","reason":"PyTorchJobCreated"},{"type":"Running","status":"True","reason":"PyTorchJobRunning"}]}}' >/dev/null
    kubectl patch trainjob llama-sft --namespace=team-a --subresource=status --type=merge \
        -p '{"status":{"conditions":[{"type":"Complete","status":"True","reason":"JobsCompleted"}]}}' >/dev/null
    # KServe's InferenceService and the other model servers (up.sh started KServe), created
    # once: re-seeding must not undo a scale or a rollout made since.
    if ! kubectl create -f "$here/fleet/inference.yaml" >/dev/null 2>"$tmp/inference.err" \
        && grep -qv AlreadyExists "$tmp/inference.err"; then
        cat "$tmp/inference.err" >&2
        exit 1
    fi
    if ! kubectl get deployment llama-chat --namespace=ml-serving >/dev/null 2>&1; then
        for tag in v0.6.1 v0.6.2 v0.6.3; do
            sed "s/IMAGE_TAG/$tag/" "$here/fleet/serving.yaml" |
                kubectl apply --server-side --field-manager=gantry-seed -f - >/dev/null
            kubectl rollout status deployment/llama-chat --namespace=ml-serving --timeout=60s >/dev/null
        done
    fi
    echo "seed: fleet ready in $((SECONDS - started))s" \
        "($(kubectl get nodes --no-headers | wc -l) nodes, $(kubectl get pods -A --no-headers | wc -l) pods)" >&2
    exit 0
fi

[[ $# -eq 3 && "$1" == --scale && "$2" =~ ^[0-9]+$ && "$3" =~ ^[0-9]+$ ]] || usage
nodes="$2" pods="$3"
((nodes >= 1 && nodes <= 5000)) || {
    echo "seed: --scale NODES must be between 1 and 5000, got $nodes" >&2
    exit 2
}
for ((i = 0; i < nodes; i++)); do
    printf -- '---\napiVersion: v1\nkind: Node\nmetadata:\n  name: scale-gpu-%04d\n  annotations: {kwok.x-k8s.io/node: fake}\n  labels: {type: kwok, kubernetes.io/hostname: scale-gpu-%04d, nvidia.com/gpu.present: "true", nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3, nvidia.com/gpu.count: "8", nvidia.com/gpu.memory: "81559", nvidia.com/gpu.family: hopper}\nstatus:\n  allocatable: {cpu: "192", memory: 2048Gi, pods: "110", nvidia.com/gpu: "8"}\n  capacity: {cpu: "192", memory: 2048Gi, pods: "110", nvidia.com/gpu: "8"}\n' "$i" "$i"
done >"$tmp/all-nodes.yaml"
missing "$tmp/all-nodes.yaml" nodes >"$tmp/nodes.yaml"
create_parallel "$tmp/nodes.yaml"
nodes_done=$SECONDS
echo "seed: $(grep -c '^---' "$tmp/nodes.yaml") of $nodes scale nodes created in $((nodes_done - started))s" >&2

kubectl create namespace scale --dry-run=client -o yaml | kubectl apply --server-side -f - >/dev/null
# Pods name their node (spec.nodeName), as a scheduler would have: this measures the
# API server and kwok holding M pods, not the scheduler's binding rate. Pods are dealt to
# the nodes in rounds; those of the first six rounds hold one GPU each (6 of a node's 8),
# the others only CPU and memory.
for ((i = 0; i < pods; i++)); do
    gpu=""
    ((i / nodes >= 6)) || gpu=', limits: {nvidia.com/gpu: "1"}'
    printf -- '---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: scale-%05d\n  namespace: scale\n  labels: {app: scale}\nspec:\n  nodeName: scale-gpu-%04d\n  containers:\n  - name: main\n    image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\n    resources: {requests: {cpu: "1", memory: 1Gi}%s}\n' "$i" "$((i % nodes))" "$gpu"
done >"$tmp/all-pods.yaml"
missing "$tmp/all-pods.yaml" pods scale >"$tmp/pods.yaml"
create_parallel "$tmp/pods.yaml"
echo "seed: $(grep -c '^---' "$tmp/pods.yaml") of $pods scale pods created in $((SECONDS - nodes_done))s" >&2
