//! The GPU inventory's index (server only): what is kept of Nodes and Pods, per node, and how
//! each watch event updates it in place.
//!
//! A request never lists anything and never walks 50,000 pods: a node's row is recomputed
//! when the node or one of its pods changes, and rows are kept sorted by name. Only what
//! Gantry reads is stored ([`NodeInfo`], [`PodInfo`]): a few hundred bytes per pod instead of
//! the whole object. `cache` holds the index behind its lock and feeds it from the watches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Resource;
use serde::de::DeserializeOwned;

use super::inventory::{node_row, NodeInfo, PodInfo};
use super::GpuNodeRow;

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
    pub(super) stale: [Option<u64>; 2],
    /// Counts changes to what the jobs area reads of pods owned by Jobs (bound, running,
    /// the scheduler's reason), so that its pages wake on those and not on every pod.
    pub(super) job_pods: u64,
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
pub(super) trait Indexed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static
{
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn pod(name: &str, job: &str, phase: &str, node: Option<&str>) -> Option<PodInfo> {
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
}
