#!/usr/bin/env bash
# Starts a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) with kwok playing the nodes, and beside it Prometheus scraping the GPU
# simulator (the fake nodes' dcgm-exporter) and KServe's controller
# (tools/operators/kserve), all on 127.0.0.1, in a run folder:
#
#   tools/cluster/up.sh RUN_DIR
#
# RUN_DIR gets pki/, kubeconfig, logs/<component>.log, pids/<component>.pid, etcd/, the
# kwok config, prometheus/ (its config, rules, targets/*.json and data) and ports, which
# names each component's port (`prometheus=PORT` among them). Ports are chosen free at start, so several clusters can run side by
# side. If the cluster in RUN_DIR is already running, this only prints its kubeconfig.
# On success the last line of stdout is the kubeconfig's path. Stop with down.sh RUN_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 1 ]] || {
    echo "usage: $0 RUN_DIR" >&2
    exit 2
}
mkdir -p "$1"
run="$(cd "$1" && pwd)"
kubeconfig="$run/kubeconfig"

# shellcheck source=tools/cluster/lib.sh
source "$here/lib.sh"

if cluster_running "$run"; then
    echo "cluster: already running in $run" >&2
    echo "$kubeconfig"
    exit 0
fi
# Leftovers of a cluster that died (or a half-started one): stop what is left.
"$here/down.sh" "$run" >&2

bin="$("$here/build.sh")"
# The GPU simulator is a workspace binary (tools/gpu-sim); cargo skips it when it is built.
root="$(cd "$here/../.." && pwd)"
(cd "$root" && . tools/env.sh && cargo build --locked -q -p gantry-gpu-sim)
gpu_sim="${CARGO_TARGET_DIR:-$root/target}/debug/gantry-gpu-sim"
started=$SECONDS
mkdir -p "$run/pki" "$run/logs" "$run/pids" "$run/etcd" "$run/pod-logs"

# --- PKI: a CA, the API server's serving cert, an admin client cert, the SA key pair.
pki="$run/pki"
if [[ ! -f "$pki/admin.crt" ]]; then
    (
        cd "$pki"
        newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
        newkey ca.key
        openssl req -x509 -new -key ca.key -days 3650 -subj "/CN=gantry-local-ca" -out ca.crt
        newkey apiserver.key
        openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1" \
            "extendedKeyUsage=serverAuth" >apiserver.ext
        openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile apiserver.ext -out apiserver.crt 2>/dev/null
        newkey admin.key
        openssl req -new -key admin.key -subj "/O=system:masters/CN=gantry-admin" -out admin.csr
        echo "extendedKeyUsage=clientAuth" >admin.ext
        openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile admin.ext -out admin.crt 2>/dev/null
        newkey sa.key
        openssl pkey -in sa.key -pubout -out sa.pub
        rm -f ./*.csr ./*.ext ca.srl
    )
fi

etcd_port="$(free_port)"
etcd_peer_port="$(free_port "$etcd_port")"
api_port="$(free_port "$etcd_port" "$etcd_peer_port")"
kcm_port="$(free_port "$etcd_port" "$etcd_peer_port" "$api_port")"
sched_port="$(free_port "$etcd_port" "$etcd_peer_port" "$api_port" "$kcm_port")"
kwok_port="$(free_port "$etcd_port" "$etcd_peer_port" "$api_port" "$kcm_port" "$sched_port")"
prom_port="$(free_port "$etcd_port" "$etcd_peer_port" "$api_port" "$kcm_port" "$sched_port" "$kwok_port")"
sim_port="$(free_port "$etcd_port" "$etcd_peer_port" "$api_port" "$kcm_port" "$sched_port" "$kwok_port" "$prom_port")"
printf 'etcd=%s\napiserver=%s\ncontroller-manager=%s\nscheduler=%s\nkwok=%s\nprometheus=%s\ngpu-sim=%s\n' \
    "$etcd_port" "$api_port" "$kcm_port" "$sched_port" "$kwok_port" "$prom_port" "$sim_port" >"$run/ports"

b64() { base64 -w0 <"$1"; }
cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gantry-local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: gantry-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: gantry-local
  context:
    cluster: gantry-local
    user: gantry-admin
current-context: gantry-local
EOF
chmod 600 "$kubeconfig"

# The container logs fake pods serve (written by pod-log.sh): an inference server's in
# ml-serving, a training run's everywhere else. kwok takes the first match.
{
    cat "$here/stages.yaml"
    cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: serving
spec:
  selector:
    matchNamespaces: [ml-serving]
  logs:
  - logsFile: $run/pod-logs/serving.log
    follow: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: training
spec:
  logs:
  - logsFile: $run/pod-logs/training.log
    follow: true
EOF
} >"$run/kwok.yaml"

on_failure() {
    "$here/down.sh" "$run" >&2 || true
}
trap on_failure ERR

start_component pod-log "$run" "$here/pod-log.sh" "$run/pod-logs"

start_component etcd "$run" "$bin/etcd" --name=local --data-dir="$run/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="local=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level=warn
wait_until etcd "$run" 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

start_component kube-apiserver "$run" "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=Node,RBAC \
    --kubelet-preferred-address-types=InternalIP \
    --kubelet-client-certificate="$pki/admin.crt" --kubelet-client-key="$pki/admin.key"
wait_until kube-apiserver "$run" 60 curl -fsS --cacert "$pki/ca.crt" "https://127.0.0.1:$api_port/readyz"

start_component kube-controller-manager "$run" "$bin/kube-controller-manager" \
    --kubeconfig="$kubeconfig" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$run/pki/kcm" \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --use-service-account-credentials --service-cluster-ip-range=10.0.0.0/24
start_component kube-scheduler "$run" "$bin/kube-scheduler" \
    --kubeconfig="$kubeconfig" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$run/pki/scheduler"
start_component kwok "$run" "$bin/kwok" \
    --kubeconfig="$kubeconfig" --config="$run/kwok.yaml" \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-name=localhost --node-port="$kwok_port" \
    --server-address="127.0.0.1:$kwok_port" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --node-lease-duration-seconds=40

wait_until kube-controller-manager "$run" 60 curl -fsSk "https://127.0.0.1:$kcm_port/healthz"
wait_until kube-scheduler "$run" 60 curl -fsSk "https://127.0.0.1:$sched_port/healthz"
wait_until kwok "$run" 30 curl -fsSk "https://127.0.0.1:$kwok_port/healthz"
# Workloads need the namespace's default ServiceAccount, which the controller manager
# creates; without this wait the first seed races it.
wait_until kube-controller-manager "$run" 30 \
    "$bin/kubectl" --kubeconfig="$kubeconfig" get serviceaccount default --namespace=default

# Prometheus and what it scrapes. Its config and rules are the repository's; the targets
# are files it rereads, so Gantry's can be added once Gantry runs.
mkdir -p "$run/prometheus/targets" "$run/prometheus/data"
cp "$here/prometheus.yml" "$run/prometheus/prometheus.yml"
cp "$here/prometheus-rules.yml" "$run/prometheus/rules.yml"
printf '[{"targets": ["127.0.0.1:%s"]}]\n' "$sim_port" >"$run/prometheus/targets/dcgm.json"
printf '[{"targets": ["127.0.0.1:%s"]}]\n' "$prom_port" >"$run/prometheus/targets/prometheus.json"
start_component gpu-sim "$run" "$gpu_sim" --kubeconfig "$kubeconfig" --listen "127.0.0.1:$sim_port" \
    --seed 1 --serving-namespace ml-serving
start_component prometheus "$run" "$bin/prometheus" --config.file="$run/prometheus/prometheus.yml" \
    --storage.tsdb.path="$run/prometheus/data" --web.listen-address="127.0.0.1:$prom_port" \
    --storage.tsdb.retention.time=8d --log.level=warn
wait_until gpu-sim "$run" 30 curl -fsS "http://127.0.0.1:$sim_port/metrics"
wait_until prometheus "$run" 60 curl -fsS "http://127.0.0.1:$prom_port/-/ready"
# KServe's controller, for the Serving area's InferenceServices.
"$here/../operators/kserve/start.sh" "$run" >&2

trap - ERR
echo "cluster: up in $((SECONDS - started))s, API server https://127.0.0.1:$api_port, Prometheus http://127.0.0.1:$prom_port, logs in $run/logs" >&2
echo "$kubeconfig"
