//! The GPU inventory's index (server only): Nodes and Pods followed by watches, read with
//! Gantry's own account, kept as a per-node index that each watch event updates in place.
//!
//! A request never lists anything and never walks 50,000 pods: a node's row is recomputed
//! when the node or one of its pods changes, rows are kept sorted by name, and readers share
//! an `RwLock`. Only what Gantry reads is stored ([`NodeInfo`], [`PodInfo`]): a few hundred
//! bytes per pod instead of the whole object. Pods that finished (Succeeded, Failed) are not
//! watched at all: they hold no GPUs.
//!
//! When a watch fails (API server down, network gone), the last state keeps being served,
//! marked stale since the first failure; the watch restarts with backoff and, once its new
//! LIST has completed, replaces the state and clears the mark.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::inventory::{node_row, NodeInfo, PodInfo};
use super::{GpuNodeRow, GpuSummary, NodeFilter, NodePage};
use crate::cluster::Cluster;
use crate::error::AppError;
use crate::locks;
use crate::watch::{self, Change};

/// A pod's identity in the index: namespace and name.
pub type PodKey = (String, String);

/// The index proper. Read through [`Inventory::read`]; written only by the watches.
#[derive(Default)]
pub struct Index {
    pub nodes: HashMap<String, NodeInfo>,
    pub pods: HashMap<PodKey, PodInfo>,
    /// Which pods are bound to each node.
    pub on_node: HashMap<String, BTreeSet<PodKey>>,
    /// One row per GPU node, sorted by name: the table's default order needs no sort.
    /// Shared (`Arc`) so that a search can take the rows and run after the lock is released.
    pub rows: BTreeMap<String, Arc<GpuNodeRow>>,
    /// Unbound pods that ask for GPUs.
    pub pending: BTreeSet<PodKey>,
    /// Per watch (nodes, pods): when it failed, in seconds since the epoch, until it is back.
    stale: [Option<u64>; 2],
    /// Counts changes to what the jobs area reads of pods owned by Jobs (bound, running,
    /// the scheduler's reason), so that its pages wake on those and not on every pod.
    job_pods: u64,
    /// Per Job (namespace, name): how many of its pods are bound and running. The jobs list
    /// reads it for its pending Jobs instead of scanning every pod.
    pub running_jobs: HashMap<PodKey, usize>,
}

/// The Job (namespace, name) whose pod `pod` is, if it is one and bound and running.
fn running_job(pod: &PodInfo) -> Option<PodKey> {
    let owner = pod.owner.as_ref().filter(|o| o.kind == "Job")?;
    pod.running
        .then(|| (pod.namespace.clone(), owner.name.clone()))
}

impl Index {
    /// Since when the shown state may be out of date (the earlier watch failure), if it is.
    pub fn stale_since(&self) -> Option<u64> {
        self.stale.iter().flatten().min().copied()
    }

    /// The pods bound to `node`.
    pub fn pods_on<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a PodInfo> + 'a {
        self.on_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|key| self.pods.get(key))
    }

    /// Recomputes `node`'s row; whether it changed.
    fn recompute(&mut self, node: Option<&str>) -> bool {
        let Some(node) = node else {
            return false;
        };
        let row = self
            .nodes
            .get(node)
            .and_then(|info| node_row(info, self.pods_on(node)));
        if self.rows.get(node).map(|r| &**r) == row.as_ref() {
            return false;
        }
        match row {
            Some(row) => self.rows.insert(node.to_string(), Arc::new(row)),
            None => self.rows.remove(node),
        };
        true
    }

    fn rebuild(&mut self) {
        self.rows = self
            .nodes
            .values()
            .filter_map(|info| {
                let row = node_row(info, self.pods_on(&info.name))?;
                Some((info.name.clone(), Arc::new(row)))
            })
            .collect();
    }
}

/// How a watched kind enters the index.
trait Indexed: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static {
    type Key: Eq + Hash + Clone + Send;
    type Info: Send;
    /// 0 for nodes, 1 for pods: which stale mark is theirs.
    const SLOT: usize;
    const NAME: &'static str;
    fn key(&self) -> Self::Key;
    /// What the index keeps of the object; `None` when it keeps nothing.
    fn info(&self) -> Option<Self::Info>;
    /// Stores (or with `None` removes) one object; whether anything shown changed.
    fn set(index: &mut Index, key: Self::Key, info: Option<Self::Info>) -> bool;
    /// Replaces every object of this kind after a complete LIST.
    fn replace(index: &mut Index, all: HashMap<Self::Key, Self::Info>);
}

impl Indexed for Node {
    type Key = String;
    type Info = NodeInfo;
    const SLOT: usize = 0;
    const NAME: &'static str = "nodes";

    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }

    fn info(&self) -> Option<NodeInfo> {
        NodeInfo::from_node(self)
    }

    fn set(index: &mut Index, key: String, info: Option<NodeInfo>) -> bool {
        if index.nodes.get(&key) == info.as_ref() {
            return false;
        }
        match info {
            Some(info) => index.nodes.insert(key.clone(), info),
            None => index.nodes.remove(&key),
        };
        index.recompute(Some(&key))
    }

    fn replace(index: &mut Index, all: HashMap<String, NodeInfo>) {
        index.nodes = all;
        index.rebuild();
    }
}

impl Indexed for Pod {
    type Key = PodKey;
    type Info = PodInfo;
    const SLOT: usize = 1;
    const NAME: &'static str = "pods";

    fn key(&self) -> PodKey {
        (
            self.metadata.namespace.clone().unwrap_or_default(),
            self.metadata.name.clone().unwrap_or_default(),
        )
    }

    fn info(&self) -> Option<PodInfo> {
        PodInfo::from_pod(self)
    }

    fn set(index: &mut Index, key: PodKey, info: Option<PodInfo>) -> bool {
        // Most pod updates (status, heartbeats of other fields) change nothing kept here.
        if index.pods.get(&key) == info.as_ref() {
            return false;
        }
        let job_view = |p: &PodInfo| {
            p.owner
                .as_ref()
                .is_some_and(|o| o.kind == "Job")
                .then(|| (p.node.clone(), p.running, p.unschedulable.clone()))
        };
        if index.pods.get(&key).and_then(job_view) != info.as_ref().and_then(job_view) {
            index.job_pods += 1;
        }
        let new_running = info.as_ref().and_then(running_job);
        let new_node = info.as_ref().and_then(|p| p.node.clone());
        let waiting = info
            .as_ref()
            .is_some_and(|p| p.node.is_none() && p.gpu_total() > 0);
        let old = match info {
            Some(info) => index.pods.insert(key.clone(), info),
            None => index.pods.remove(&key),
        };
        let old_running = old.as_ref().and_then(running_job);
        if old_running != new_running {
            if let Some(job) = old_running {
                if let Some(count) = index.running_jobs.get_mut(&job) {
                    *count -= 1;
                    if *count == 0 {
                        index.running_jobs.remove(&job);
                    }
                }
            }
            if let Some(job) = new_running {
                *index.running_jobs.entry(job).or_default() += 1;
            }
        }
        let old_node = old.and_then(|p| p.node);
        if old_node != new_node {
            if let Some(node) = &old_node {
                if let Some(keys) = index.on_node.get_mut(node) {
                    keys.remove(&key);
                    if keys.is_empty() {
                        index.on_node.remove(node);
                    }
                }
            }
            if let Some(node) = &new_node {
                index
                    .on_node
                    .entry(node.clone())
                    .or_default()
                    .insert(key.clone());
            }
        }
        let pending_changed = if waiting {
            // A new reason from the scheduler is news too.
            index.pending.insert(key);
            true
        } else {
            index.pending.remove(&key)
        };
        let old_changed = index.recompute(old_node.as_deref());
        let new_changed = old_node != new_node && index.recompute(new_node.as_deref());
        pending_changed || old_changed || new_changed
    }

    fn replace(index: &mut Index, all: HashMap<PodKey, PodInfo>) {
        index.job_pods += 1;
        index.on_node.clear();
        index.pending.clear();
        index.running_jobs.clear();
        for (key, pod) in &all {
            if let Some(job) = running_job(pod) {
                *index.running_jobs.entry(job).or_default() += 1;
            }
            match &pod.node {
                Some(node) => {
                    index
                        .on_node
                        .entry(node.clone())
                        .or_default()
                        .insert(key.clone());
                }
                None if pod.gpu_total() > 0 => {
                    index.pending.insert(key.clone());
                }
                None => {}
            }
        }
        index.pods = all;
        index.rebuild();
    }
}

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
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": { "namespace": "team-a", "name": name, "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": "u", "controller": true
            }] },
            "spec": { "nodeName": node, "containers": [{ "name": "main" }] },
            "status": { "phase": phase }
        }))
        .unwrap();
        PodInfo::from_pod(&pod)
    }

    #[test]
    fn running_pods_are_counted_per_job_as_they_come_and_go() {
        let mut index = Index::default();
        let key = |name: &str| ("team-a".to_string(), name.to_string());
        let job = key("train");
        Pod::set(&mut index, key("p1"), pod("p1", "train", "Pending", None));
        assert!(!index.running_jobs.contains_key(&job));
        Pod::set(
            &mut index,
            key("p1"),
            pod("p1", "train", "Running", Some("n1")),
        );
        Pod::set(
            &mut index,
            key("p2"),
            pod("p2", "train", "Running", Some("n2")),
        );
        assert_eq!(index.running_jobs.get(&job), Some(&2));
        // Succeeded pods hold nothing and leave the index.
        Pod::set(
            &mut index,
            key("p1"),
            pod("p1", "train", "Succeeded", Some("n1")),
        );
        assert_eq!(index.running_jobs.get(&job), Some(&1));
        Pod::set(&mut index, key("p2"), None);
        assert!(index.running_jobs.is_empty());
        let all: HashMap<PodKey, PodInfo> =
            [(key("p3"), pod("p3", "eval", "Running", Some("n1")).unwrap())].into();
        Pod::replace(&mut index, all);
        assert_eq!(index.running_jobs.get(&key("eval")), Some(&1));
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
