//! GPU nodes: every GPU node with its model, capacity, allocation and health, the fleet's
//! totals by model for the overview, and each node's detail.
//!
//! Answers come from a watch-fed index of Nodes and Pods (`index`, fed and shared by
//! `cache`), never from a LIST per
//! request; the arithmetic is in `inventory`, the table's filtering in `select`, the answers
//! as the user in `server`; `api` routes the JSON API and `stream` the live feeds; `pages`
//! shows them.

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod index;
#[cfg(feature = "ssr")]
pub mod inventory;
pub mod pages;
pub mod select;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod stream;

use std::collections::{BTreeMap, HashMap};

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Ready, cordoned, and which pressure conditions are on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHealth {
    pub ready: bool,
    pub cordoned: bool,
    pub pressure: Vec<String>,
}

/// The controller a pod belongs to: a Job, a Deployment (for its ReplicaSet's pods), …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub kind: String,
    pub name: String,
}

/// One GPU node as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuNodeRow {
    pub name: String,
    /// `nvidia.com/gpu.product`, or `unknown`.
    pub model: String,
    /// `nvidia.com/gpu.family`, e.g. `hopper`.
    pub family: Option<String>,
    pub gpu_memory_mib: Option<u64>,
    /// Physical GPUs (`nvidia.com/gpu.count`).
    pub physical_gpus: Option<u32>,
    /// Time-slicing replicas per GPU (`nvidia.com/gpu.replicas`).
    pub replicas: Option<u32>,
    /// Schedulable GPU units: whole GPUs, replicas or MIG slices, summed.
    pub allocatable: i64,
    pub allocated: i64,
    pub free: i64,
    /// Per resource (`nvidia.com/gpu`, `nvidia.com/mig-1g.10gb`, …): (allocatable, allocated).
    pub resources: BTreeMap<String, (i64, i64)>,
    /// Millicores: (allocatable, requested by the node's pods).
    pub cpu_millis: (i64, i64),
    /// Bytes: (allocatable, requested by the node's pods).
    pub memory_bytes: (i64, i64),
    pub health: NodeHealth,
}

/// Filters, sort and page of the nodes table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeFilter {
    /// Exact GPU model, or empty for all.
    pub model: String,
    /// Only nodes with at least this many free GPUs.
    pub min_free: i64,
    /// `ready`, `not-ready`, or empty for both.
    pub readiness: String,
    /// Words that must each occur in the node's name, model or one of its labels written
    /// `key=value` (so `gpu.family=hopper` finds Hopper nodes).
    pub search: String,
    /// `name` (default), `free` (most free first) or `model`.
    pub sort: String,
    /// 0-based page of [`PAGE_SIZE`] rows.
    pub page: usize,
}

pub const PAGE_SIZE: usize = 50;

/// One page of the table and how many rows match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePage {
    pub rows: Vec<GpuNodeRow>,
    pub matching: usize,
    pub page: usize,
    pub models: Vec<String>,
    /// Set while the cluster cannot be watched: the time of the last known state.
    pub stale_since: Option<String>,
}

/// Totals for one GPU model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub model: String,
    pub nodes: usize,
    pub allocatable: i64,
    pub allocated: i64,
    pub free: i64,
}

/// A pod waiting for GPUs that the scheduler could not place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPod {
    pub namespace: String,
    pub name: String,
    pub owner: Option<Owner>,
    /// GPU-like resources it asks for.
    pub gpus: BTreeMap<String, i64>,
    /// The scheduler's reason, e.g. "0/14 nodes are available: … Insufficient nvidia.com/gpu".
    pub reason: String,
    pub since: String,
}

/// The fleet at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuSummary {
    pub models: Vec<ModelSummary>,
    pub not_ready: Vec<String>,
    pub cordoned: Vec<String>,
    /// Pending GPU pods in the namespaces the caller may list pods in, oldest first.
    pub pending: Vec<PendingPod>,
    /// Pending GPU pods in other namespaces, counted only.
    pub pending_elsewhere: usize,
    /// Pending GPU pods the caller may see, of which at most [`PENDING_SHOWN`] are listed.
    pub pending_count: usize,
    pub stale_since: Option<String>,
}

impl GpuSummary {
    /// Totals of `rows`; pending pods and staleness are the caller's to fill in.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a GpuNodeRow> + Clone) -> GpuSummary {
        let mut models: BTreeMap<&str, ModelSummary> = BTreeMap::new();
        for row in rows.clone() {
            let entry = models.entry(&row.model).or_insert_with(|| ModelSummary {
                model: row.model.clone(),
                nodes: 0,
                allocatable: 0,
                allocated: 0,
                free: 0,
            });
            entry.nodes += 1;
            entry.allocatable += row.allocatable;
            entry.allocated += row.allocated;
            // What is free on a node nothing can be scheduled to is not free.
            if row.health.ready && !row.health.cordoned {
                entry.free += row.free;
            }
        }
        GpuSummary {
            models: models.into_values().collect(),
            not_ready: rows
                .clone()
                .into_iter()
                .filter(|r| !r.health.ready)
                .map(|r| r.name.clone())
                .collect(),
            cordoned: rows
                .into_iter()
                .filter(|r| r.health.cordoned)
                .map(|r| r.name.clone())
                .collect(),
            pending: Vec::new(),
            pending_elsewhere: 0,
            pending_count: 0,
            stale_since: None,
        }
    }
}

/// What the nodes stream sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageUpdate {
    /// The whole page, first thing on each connection.
    Snapshot(NodePage),
    /// What changed since the previous message.
    Delta(PageDelta),
}

/// The page after a change, without the rows the client already has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageDelta {
    pub matching: usize,
    /// The page's node names, in order.
    pub order: Vec<String>,
    /// Rows that are new on the page or changed.
    pub rows: Vec<GpuNodeRow>,
    /// The model list, when it changed.
    pub models: Option<Vec<String>>,
    pub stale_since: Option<String>,
}

impl PageDelta {
    /// The delta from `before` to `after`; `None` when nothing changed.
    pub fn between(before: &NodePage, after: &NodePage) -> Option<PageDelta> {
        if before == after {
            return None;
        }
        let known: HashMap<&str, &GpuNodeRow> =
            before.rows.iter().map(|r| (r.name.as_str(), r)).collect();
        Some(PageDelta {
            matching: after.matching,
            order: after.rows.iter().map(|r| r.name.clone()).collect(),
            rows: after
                .rows
                .iter()
                .filter(|r| known.get(r.name.as_str()) != Some(r))
                .cloned()
                .collect(),
            models: (before.models != after.models).then(|| after.models.clone()),
            stale_since: after.stale_since.clone(),
        })
    }

    /// Applies the delta to the page the client holds.
    pub fn apply(self, page: &mut NodePage) {
        let mut rows: HashMap<String, GpuNodeRow> = std::mem::take(&mut page.rows)
            .into_iter()
            .chain(self.rows)
            .map(|r| (r.name.clone(), r))
            .collect();
        page.rows = self
            .order
            .iter()
            .filter_map(|name| rows.remove(name))
            .collect();
        page.matching = self.matching;
        if let Some(models) = self.models {
            page.models = models;
        }
        page.stale_since = self.stale_since;
    }
}

/// At most this many pending pods are listed on the overview; the rest are counted.
pub const PENDING_SHOWN: usize = 100;

/// A pod bound to the node that holds GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuPod {
    pub namespace: String,
    pub name: String,
    pub owner: Option<Owner>,
    pub gpus: BTreeMap<String, i64>,
}

/// An event about the node, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEvent {
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub last_seen: String,
}

/// Everything the detail page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDetail {
    pub row: GpuNodeRow,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<String>,
    /// GPU pods in namespaces whose pods the caller may list.
    pub pods: Vec<GpuPod>,
    /// GPU pods elsewhere: how many, and how many GPUs they hold.
    pub hidden_pods: usize,
    pub hidden_gpus: i64,
    /// The node's events, or why they could not be read.
    pub events: Result<Vec<NodeEvent>, String>,
    pub stale_since: Option<String>,
}

/// The fleet's totals and the pending GPU pods the caller may see.
#[server(endpoint = "gpu-summary")]
pub async fn get_gpu_summary() -> Result<GpuSummary, AppError> {
    let (state, caller) = crate::state::caller(crate::auth::rules::Action::View, None)?;
    server::summary(&state, &caller).await
}

/// One GPU node in full, as the caller may see it.
#[server(endpoint = "gpu-node")]
pub async fn get_gpu_node(name: String) -> Result<NodeDetail, AppError> {
    let (state, caller) = crate::state::caller(crate::auth::rules::Action::View, None)?;
    server::detail(&state, &caller, &name).await
}

/// Cordons (or uncordons) a node, as the calling ops admin: the patch is impersonated, so
/// the cluster's RBAC decides too, and the attempt is audited whatever its outcome.
#[server(endpoint = "nodes/cordon")]
pub async fn set_cordon(node: String, cordon: bool) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(crate::auth::rules::Action::OperateCluster, None)?;
    crate::state::to_completion(async move { server::cordon(&state, &caller, &node, cordon).await })
        .await
}

#[cfg(test)]
mod delta_tests {
    use super::*;

    fn row(name: &str, free: i64) -> GpuNodeRow {
        GpuNodeRow {
            name: name.into(),
            model: "H100".into(),
            family: None,
            gpu_memory_mib: None,
            physical_gpus: Some(8),
            replicas: None,
            allocatable: 8,
            allocated: 8 - free,
            free,
            resources: Default::default(),
            cpu_millis: (0, 0),
            memory_bytes: (0, 0),
            health: NodeHealth {
                ready: true,
                cordoned: false,
                pressure: vec![],
            },
        }
    }

    fn page(rows: Vec<GpuNodeRow>) -> NodePage {
        NodePage {
            matching: rows.len(),
            rows,
            page: 0,
            models: vec!["H100".into()],
            stale_since: None,
        }
    }

    #[test]
    fn a_delta_carries_only_changed_rows_and_rebuilds_the_page() {
        let before = page(vec![row("a", 8), row("b", 8), row("c", 8)]);
        let after = page(vec![row("a", 8), row("c", 4), row("d", 8)]);
        assert_eq!(PageDelta::between(&before, &before), None);
        let delta = PageDelta::between(&before, &after).unwrap();
        let sent: Vec<_> = delta.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(sent, ["c", "d"]);
        assert_eq!(delta.models, None);
        let mut held = before;
        delta.apply(&mut held);
        assert_eq!(held, after);
    }
}
