//! Watch-backed caches of Nodes and Pods (server only), read with Gantry's own account.
//!
//! Started at boot; they wait for the cluster connection, fill from one LIST and then follow
//! the watch, reconnecting with backoff. Pods that finished (Succeeded, Failed) are not
//! cached: they hold no GPUs. Fields Gantry never reads are dropped before storing, so a
//! 5,000-node, 50,000-pod cluster fits in a modest server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;

use super::inventory::node_row;
use super::GpuNodeRow;
use crate::cluster::Cluster;
use crate::error::AppError;

/// How long computed rows are reused. Every request within this time shares one pass over
/// 5,000 nodes and 50,000 pods instead of each making its own; well inside the 2 s in
/// which a change must reach an open page.
const ROWS_TTL: Duration = Duration::from_millis(500);

/// Rows computed at an instant, shared by the requests that follow within [`ROWS_TTL`].
type Computed = Option<(Instant, Arc<Vec<GpuNodeRow>>)>;

/// The caches, whether both have completed their first LIST, and the latest rows.
#[derive(Clone)]
pub struct Inventory {
    nodes: Store<Node>,
    pods: Store<Pod>,
    synced: Arc<AtomicBool>,
    /// NB: an async mutex, held while computing, so a burst of requests waits for one
    /// computation rather than starting fifty.
    rows: Arc<tokio::sync::Mutex<Computed>>,
}

impl Inventory {
    /// Starts the caches in the background; they begin once `cluster` is connected.
    pub fn start(cluster: Cluster) -> Inventory {
        let (nodes, node_writer) = reflector::store::<Node>();
        let (pods, pod_writer) = reflector::store::<Pod>();
        let synced = Arc::new(AtomicBool::new(false));
        let inventory = Inventory {
            nodes: nodes.clone(),
            pods: pods.clone(),
            synced: synced.clone(),
            rows: Arc::default(),
        };
        tokio::spawn(async move {
            let client = loop {
                match cluster.client() {
                    Some(client) => break client,
                    None => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            };
            let node_stream = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
                .default_backoff()
                .modify(slim_node)
                .reflect(node_writer)
                .applied_objects();
            let active = watcher::Config::default()
                .fields("status.phase!=Succeeded,status.phase!=Failed")
                .page_size(500);
            let pod_stream = watcher(Api::<Pod>::all(client), active)
                .default_backoff()
                .modify(slim_pod)
                .reflect(pod_writer)
                .applied_objects();
            tokio::spawn(node_stream.for_each(|_| async {}));
            tokio::spawn(pod_stream.for_each(|_| async {}));
            if nodes.wait_until_ready().await.is_ok() && pods.wait_until_ready().await.is_ok() {
                synced.store(true, Ordering::Relaxed);
                tracing::info!(
                    nodes = nodes.state().len(),
                    pods = pods.state().len(),
                    "node and pod caches synced"
                );
            }
        });
        inventory
    }

    /// Whether both caches have their first full picture (`/readyz` waits for this).
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Relaxed)
    }

    /// Every GPU node's row, at most [`ROWS_TTL`] old; 503 until the caches have synced.
    pub async fn rows(&self) -> Result<Arc<Vec<GpuNodeRow>>, AppError> {
        if !self.synced() {
            return Err(AppError::unavailable(
                "Kubernetes",
                "the node and pod caches are still loading",
            ));
        }
        let mut latest = self.rows.lock().await;
        if let Some((at, rows)) = latest.as_ref() {
            if at.elapsed() < ROWS_TTL {
                return Ok(rows.clone());
            }
        }
        // Tens of milliseconds of CPU at the scale limit: not on the async runtime.
        let this = self.clone();
        let rows = tokio::task::spawn_blocking(move || Arc::new(this.compute_rows()))
            .await
            .map_err(|e| AppError::internal("computing the GPU inventory", e))?;
        *latest = Some((Instant::now(), rows.clone()));
        Ok(rows)
    }

    fn compute_rows(&self) -> Vec<GpuNodeRow> {
        let pods = self.pods.state();
        // Group pods by node once: O(pods + nodes), not O(pods × nodes).
        let mut by_node: std::collections::HashMap<&str, Vec<&Pod>> =
            std::collections::HashMap::new();
        for pod in &pods {
            if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                by_node.entry(node).or_default().push(pod);
            }
        }
        self.nodes
            .state()
            .iter()
            .filter_map(|node| {
                let name = node.metadata.name.as_deref().unwrap_or_default();
                node_row(node, by_node.get(name).into_iter().flatten().copied())
            })
            .collect()
    }
}

/// Keeps what the inventory reads: name, labels, unschedulable, taints, allocatable,
/// capacity, conditions (without their messages).
fn slim_node(node: &mut Node) {
    node.metadata.managed_fields = None;
    node.metadata.annotations = None;
    if let Some(status) = node.status.as_mut() {
        status.images = None;
        status.node_info = None;
        status.volumes_attached = None;
        status.volumes_in_use = None;
        for condition in status.conditions.iter_mut().flatten() {
            condition.message = None;
        }
    }
}

/// Keeps what allocation needs: node, phase, and each container's resources and restart
/// policy. Everything else (env, commands, volumes, probes, statuses) is dropped.
fn slim_pod(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
    pod.metadata.annotations = None;
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes = None;
        spec.affinity = None;
        spec.tolerations = None;
        for container in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            container.env = None;
            container.env_from = None;
            container.command = None;
            container.args = None;
            container.volume_mounts = None;
            container.liveness_probe = None;
            container.readiness_probe = None;
            container.startup_probe = None;
            container.ports = None;
        }
    }
    if let Some(status) = pod.status.as_mut() {
        let phase = status.phase.take();
        *status = Default::default();
        status.phase = phase;
    }
}
