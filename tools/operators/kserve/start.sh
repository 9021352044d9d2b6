#!/usr/bin/env bash
# Starts KServe's controller manager beside the local cluster in RUN_DIR (started by
# tools/cluster/up.sh), in Standard (raw Deployment) mode: no Knative, no Istio. Installs
# KServe's real CRDs, its ConfigMap and the sklearn runtime, and registers its
# InferenceService defaulter and validator with the API server by URL, so an
# InferenceService is defaulted, validated and reconciled into a Deployment, a Service and
# an HPA that kwok runs. A component like the others: logs/kserve.log, pids/kserve.pid.
#
#   tools/operators/kserve/start.sh RUN_DIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="$here/../../cluster"
run="$(cd "$1" && pwd)"
# shellcheck source=tools/cluster/lib.sh
source "$cluster/lib.sh"
kserve="$("$here/build.sh")"
kubectl() { "$("$cluster/build.sh")/kubectl" --kubeconfig="$run/kubeconfig" "$@"; }

# CRDs over 256 KB (the InferenceService's is 1.1 MB) only go in server-side.
kubectl apply --server-side --force-conflicts --field-manager=gantry-kserve -f "$kserve/crds/" >/dev/null
established crd/inferenceservices.serving.kserve.io crd/clusterservingruntimes.serving.kserve.io
kubectl create namespace kserve --dry-run=client -o yaml | kubectl apply --server-side -f - >/dev/null
kubectl apply --server-side --force-conflicts --field-manager=gantry-kserve --namespace=kserve \
    -f "$kserve/config/configmap.yaml" >/dev/null
# v0.17 calls raw-Deployment mode "Standard". The ingress gateway must stay named though
# no gateway runs: the manager refuses an empty one.
kubectl patch configmap inferenceservice-config --namespace=kserve --type=merge -p '{"data":{
  "deploy":"{\"defaultDeploymentMode\":\"Standard\"}",
  "ingress":"{\"ingressGateway\":\"knative-serving/knative-ingress-gateway\",\"ingressDomain\":\"example.com\",\"urlScheme\":\"http\",\"disableIstioVirtualHost\":true,\"disableIngressCreation\":true}"}}' >/dev/null
kubectl apply --server-side --force-conflicts --field-manager=gantry-kserve \
    -f "$kserve/config/sklearn-runtime.yaml" >/dev/null

# The webhook server's certificate, from the cluster's CA, for 127.0.0.1: the API server
# calls the manager by URL (no Service can point at a host process).
certs="$run/kserve/tmp/k8s-webhook-server/serving-certs"
mkdir -p "$certs"
if [[ ! -f "$certs/tls.crt" ]]; then
    (
        cd "$certs"
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tls.key 2>/dev/null
        openssl req -new -key tls.key -subj "/CN=kserve-webhook" -out tls.csr
        printf '%s\n' "subjectAltName=IP:127.0.0.1" "extendedKeyUsage=serverAuth" >tls.ext
        openssl x509 -req -in tls.csr -CA "$run/pki/ca.crt" -CAkey "$run/pki/ca.key" -CAcreateserial \
            -CAserial "$run/kserve/ca.srl" -days 3650 -extfile tls.ext -out tls.crt 2>/dev/null
        rm -f tls.csr tls.ext
    )
fi

used="$(sed 's/.*=//' "$run/ports" | tr '\n' ' ')"
# shellcheck disable=SC2086
metrics_port="$(free_port $used)"
# shellcheck disable=SC2086
probe_port="$(free_port $used "$metrics_port")"
# shellcheck disable=SC2086
webhook_port="$(free_port $used "$metrics_port" "$probe_port")"
printf 'kserve=%s\n' "$webhook_port" >>"$run/ports"
TMPDIR="$run/kserve/tmp" POD_NAMESPACE=kserve start_component kserve "$run" "$kserve/bin/manager" \
    --kubeconfig="$run/kubeconfig" --metrics-addr="127.0.0.1:$metrics_port" \
    --health-probe-addr="127.0.0.1:$probe_port" --webhook-port="$webhook_port" --leader-elect=false
wait_until kserve "$run" 60 curl -fsS "http://127.0.0.1:$probe_port/readyz"
# The webhook server answers only its paths (404 elsewhere): a TLS answer is enough.
wait_until kserve "$run" 30 curl -sS --cacert "$run/pki/ca.crt" -o /dev/null "https://127.0.0.1:$webhook_port/"

# Upstream's webhook configurations, cut down to the InferenceService's defaulter and
# validator (with failurePolicy Fail, a registered path the manager does not serve would
# break every matching create) and pointed at the manager's URL.
kubectl create --dry-run=client -o json -f "$kserve/config/webhooks.yaml" |
    python3 "$here/webhooks.py" "https://127.0.0.1:$webhook_port" "$(base64 -w0 <"$run/pki/ca.crt")" |
    kubectl apply --server-side --force-conflicts \
    --field-manager=gantry-kserve -f - >/dev/null
