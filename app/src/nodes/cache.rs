//! The GPU inventory (server only): Nodes and Pods followed by watches, read with Gantry's
//! own account, into the per-node [`Index`] (`index`), which readers share behind an
//! `RwLock`; answers are remembered per index generation, and pages wait on its change
//! counters. Pods that finished (Succeeded, Failed) are not watched at all: they hold no GPUs.
//!
//! When a watch fails (API server down, network gone), the last state keeps being served,
//! marked stale since the first failure; the watch restarts with backoff and, once its new
//! LIST has completed, replaces the state and clears the mark.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::watcher;
use kube::Api;

use super::index::{Index, Indexed};
use super::inventory::PodInfo;
use super::{GpuSummary, NodeFilter, NodePage};
use crate::cluster::Cluster;
use crate::error::AppError;
use crate::locks;
use crate::watch::{self, Change};

/// Answers computed for the index as it was at a generation (see [`Inventory::generation`]),
/// reused by every request until the index changes: at 50 clients asking the same thing,
/// one filter-and-sort of 5,000 rows serves them all.
#[derive(Default)]
pub struct Memo {
    pub pages: HashMap<NodeFilter, (u64, NodePage)>,
    pub summary: Option<(u64, GpuSummary, Vec<PodInfo>)>,
}

/// Different filters remembered at most; beyond, the memo starts afresh.
const MEMO_PAGES: usize = 256;

struct Shared {
    index: RwLock<Index>,
    memo: std::sync::Mutex<Memo>,
    /// Both watches have completed their first LIST.
    synced: AtomicBool,
    /// Counts changes to what is shown; open pages wait on it.
    changes: tokio::sync::watch::Sender<u64>,
    /// Ticks when pods owned by Jobs change (see `Index::job_pods`).
    job_pods: tokio::sync::watch::Sender<u64>,
}

/// The inventory: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Inventory {
    shared: Arc<Shared>,
}

impl Inventory {
    /// Starts the watches in the background; they begin once `cluster` is connected.
    pub fn start(cluster: Cluster) -> Inventory {
        let inventory = Inventory {
            shared: Arc::new(Shared {
                index: RwLock::default(),
                memo: Default::default(),
                synced: AtomicBool::new(false),
                changes: tokio::sync::watch::Sender::new(0),
                job_pods: tokio::sync::watch::Sender::new(0),
            }),
        };
        let shared = inventory.shared.clone();
        tokio::spawn(async move {
            let client = cluster.wait_for_client().await;
            let (nodes_ready, nodes_listed) = tokio::sync::oneshot::channel();
            let (pods_ready, pods_listed) = tokio::sync::oneshot::channel();
            tokio::spawn(follow(
                Api::<Node>::all(client.clone()),
                watcher::Config::default(),
                shared.clone(),
                nodes_ready,
            ));
            let active = watcher::Config::default()
                .fields("status.phase!=Succeeded,status.phase!=Failed")
                .page_size(500);
            tokio::spawn(follow(
                Api::<Pod>::all(client),
                active,
                shared.clone(),
                pods_ready,
            ));
            if nodes_listed.await.is_ok() && pods_listed.await.is_ok() {
                shared.synced.store(true, Ordering::Relaxed);
                let index = locks::read(&shared.index);
                tracing::info!(
                    nodes = index.nodes.len(),
                    pods = index.pods.len(),
                    gpu_nodes = index.rows.len(),
                    "node and pod caches synced"
                );
            }
        });
        inventory
    }

    /// Whether both watches have their first full picture (`/readyz` waits for this).
    pub fn synced(&self) -> bool {
        self.shared.synced.load(Ordering::Relaxed)
    }

    /// The index, for reading; 503 until both watches have synced. Hold it briefly: the
    /// watches wait while it is held.
    pub fn read(&self) -> Result<RwLockReadGuard<'_, Index>, AppError> {
        if !self.synced() {
            return Err(AppError::unavailable(
                "Kubernetes",
                "the node and pod caches are still loading",
            ));
        }
        Ok(locks::read(&self.shared.index))
    }

    /// The index's size and health as gauges for `/metrics`: objects held, GPU nodes,
    /// pending GPU pods, and 1 while stale.
    pub fn gauges(&self) -> prometheus_client::registry::Registry {
        use prometheus_client::metrics::gauge::Gauge;
        let mut registry = prometheus_client::registry::Registry::with_prefix("gantry_inventory");
        let index = locks::read(&self.shared.index);
        let figures = [
            ("nodes", "Nodes held", index.nodes.len() as i64),
            (
                "pods",
                "Pods held (not Succeeded or Failed)",
                index.pods.len() as i64,
            ),
            ("gpu_nodes", "Nodes with GPUs", index.rows.len() as i64),
            (
                "pending_gpu_pods",
                "Unbound pods asking for GPUs",
                index.pending.len() as i64,
            ),
            (
                "synced",
                "1 once both watches have listed",
                i64::from(self.synced()),
            ),
            (
                "stale",
                "1 while a watch is failing",
                i64::from(index.stale_since().is_some()),
            ),
        ];
        for (name, help, value) in figures {
            let gauge = Gauge::<i64>::default();
            gauge.set(value);
            registry.register(name, help, gauge);
        }
        registry
    }

    /// Counts changes to what is shown; answers computed at one generation hold until the next.
    pub fn generation(&self) -> u64 {
        *self.shared.changes.borrow()
    }

    /// The page for `filter` at the current generation, computed by `compute` only when
    /// the index changed since it was last asked for.
    pub fn page(
        &self,
        filter: &NodeFilter,
        compute: impl FnOnce() -> Result<NodePage, AppError>,
    ) -> Result<NodePage, AppError> {
        let generation = self.generation();
        if let Some((at, page)) = self.memo().pages.get(filter) {
            if *at == generation {
                return Ok(page.clone());
            }
        }
        let page = compute()?;
        let mut memo = self.memo();
        if memo.pages.len() >= MEMO_PAGES {
            memo.pages.clear();
        }
        memo.pages
            .insert(filter.clone(), (generation, page.clone()));
        Ok(page)
    }

    /// The totals and pending pods at the current generation, likewise.
    pub fn summary(
        &self,
        compute: impl FnOnce() -> Result<(GpuSummary, Vec<PodInfo>), AppError>,
    ) -> Result<(GpuSummary, Vec<PodInfo>), AppError> {
        let generation = self.generation();
        if let Some((at, summary, pending)) = &self.memo().summary {
            if *at == generation {
                return Ok((summary.clone(), pending.clone()));
            }
        }
        let (summary, pending) = compute()?;
        self.memo().summary = Some((generation, summary.clone(), pending.clone()));
        Ok((summary, pending))
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        locks::lock(&self.shared.memo)
    }

    /// Ticks whenever anything shown changes: rows, pending pods, staleness.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Ticks only when pods owned by Jobs are bound, start or stop running, or get a new
    /// reason from the scheduler: what the jobs pages wake on.
    pub fn job_pod_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.job_pods.subscribe()
    }
}

impl Shared {
    fn write(&self, update: impl FnOnce(&mut Index) -> bool) {
        let (changed, job_pods_changed) = {
            let mut index = locks::write(&self.index);
            let before = index.job_pods;
            (update(&mut index), index.job_pods != before)
        };
        if changed {
            self.changes.send_modify(|n| *n += 1);
        }
        if job_pods_changed {
            self.job_pods.send_modify(|n| *n += 1);
        }
    }
}

/// Feeds one kind into the index: `watch::follow`'s changes become index updates, and each
/// kind has its own stale mark.
struct IndexFollower<K> {
    shared: Arc<Shared>,
    first_list: Option<tokio::sync::oneshot::Sender<()>>,
    kind: std::marker::PhantomData<fn() -> K>,
}

impl<K: Indexed> watch::Follower<(K::Key, Option<K::Info>)> for IndexFollower<K> {
    async fn apply(&mut self, change: Change<(K::Key, Option<K::Info>)>) {
        match change {
            Change::Listed(all) => {
                let all = all
                    .into_iter()
                    .filter_map(|(key, info)| Some((key, info?)))
                    .collect();
                self.shared.write(|index| {
                    K::replace(index, all);
                    index.stale[K::SLOT] = None;
                    true
                });
                if let Some(ready) = self.first_list.take() {
                    let _ = ready.send(());
                }
            }
            Change::Applied((key, info)) => self.shared.write(|index| K::set(index, key, info)),
            Change::Deleted((key, _)) => self.shared.write(|index| K::set(index, key, None)),
            Change::Stale(since) => self.shared.write(|index| {
                index.stale[K::SLOT] = Some(since);
                true
            }),
        }
    }
}

/// Follows one kind for ever into the index (see `crate::watch` for the failure policy).
async fn follow<K: Indexed>(
    api: Api<K>,
    config: watcher::Config,
    shared: Arc<Shared>,
    first_list: tokio::sync::oneshot::Sender<()>,
) {
    let follower = IndexFollower::<K> {
        shared,
        first_list: Some(first_list),
        kind: std::marker::PhantomData,
    };
    watch::follow(K::NAME, api, config, |o: K| (o.key(), o.info()), follower).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, job: &str, phase: &str, node: Option<&str>) -> Option<PodInfo> {
        crate::nodes::index::tests::pod(name, job, phase, node)
    }

    /// The jobs pages once woke on every inventory change (any GPU pod anywhere); they wait
    /// on `job_pods`, which must tick for Jobs' pods and only for them.
    #[test]
    fn the_jobs_signal_ticks_for_jobs_pods_only() {
        let shared = Shared {
            index: RwLock::default(),
            memo: Default::default(),
            synced: AtomicBool::new(true),
            changes: tokio::sync::watch::Sender::new(0),
            job_pods: tokio::sync::watch::Sender::new(0),
        };
        let mut shown = shared.changes.subscribe();
        let mut jobs = shared.job_pods.subscribe();
        let key = |name: &str| ("team-a".to_string(), name.to_string());
        let waiting: Pod = serde_json::from_value(serde_json::json!({
            "metadata": { "namespace": "team-a", "name": "notebook" },
            "spec": { "containers": [{ "name": "main",
                "resources": { "limits": { "nvidia.com/gpu": "1" } } }] },
            "status": { "phase": "Pending" }
        }))
        .unwrap();
        shared.write(|index| Pod::set(index, key("notebook"), PodInfo::from_pod(&waiting)));
        assert!(
            shown.has_changed().unwrap(),
            "a pending GPU pod is news to the nodes pages"
        );
        assert!(!jobs.has_changed().unwrap(), "but not to the jobs pages");
        shown.mark_unchanged();

        let pod = |phase, node| pod("train-0", "train", phase, node);
        shared.write(|index| Pod::set(index, key("train-0"), pod("Pending", None)));
        assert!(jobs.has_changed().unwrap(), "a Job's new pod");
        jobs.mark_unchanged();
        shared.write(|index| Pod::set(index, key("train-0"), pod("Pending", None)));
        assert!(
            !jobs.has_changed().unwrap(),
            "the same pod again changes nothing"
        );
        shared.write(|index| Pod::set(index, key("train-0"), pod("Running", Some("n1"))));
        assert!(jobs.has_changed().unwrap(), "the Job's pod runs");
    }
}
