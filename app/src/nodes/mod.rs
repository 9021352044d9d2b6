//! GPU nodes: every GPU node with its model, capacity, allocation and health, the fleet's
//! totals by model for the overview, and each node's detail.
//!
//! Answers come from a watch-fed index of Nodes and Pods (`cache`), never from a LIST per
//! request; the arithmetic is in `inventory`; open pages get changes pushed (`crate::live`).

#[cfg(feature = "ssr")]
pub mod cache;
pub mod detail;
#[cfg(feature = "ssr")]
pub mod inventory;

use std::collections::{BTreeMap, HashMap};

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::live::{self, LiveBadge};

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

/// Applies `filter`'s conditions, sort and page to `rows` (given in name order); only the
/// page is copied. `labels` finds a node's labels for the search.
pub fn select<'a>(
    rows: impl IntoIterator<Item = &'a GpuNodeRow>,
    labels: impl Fn(&str) -> Option<&'a BTreeMap<String, String>>,
    filter: &NodeFilter,
) -> NodePage {
    let mut models: Vec<&str> = Vec::new();
    let search: Vec<String> = filter
        .search
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let matches_word = |row: &GpuNodeRow, word: &str| {
        row.name.to_lowercase().contains(word)
            || row.model.to_lowercase().contains(word)
            || labels(&row.name).is_some_and(|labels| {
                labels
                    .iter()
                    .any(|(k, v)| format!("{k}={v}").to_lowercase().contains(word))
            })
    };
    let mut rows: Vec<&GpuNodeRow> = rows
        .into_iter()
        .inspect(|r| models.push(&r.model))
        .filter(|r| {
            (filter.model.is_empty() || r.model == filter.model)
                && r.free >= filter.min_free
                && match filter.readiness.as_str() {
                    "ready" => r.health.ready,
                    "not-ready" => !r.health.ready,
                    _ => true,
                }
                && search.iter().all(|word| matches_word(r, word))
        })
        .collect();
    models.sort_unstable();
    models.dedup();
    // Stable sorts over name order: ties stay sorted by name.
    match filter.sort.as_str() {
        "free" => rows.sort_by_key(|r| std::cmp::Reverse(r.free)),
        "model" => rows.sort_by(|a, b| a.model.cmp(&b.model)),
        _ => {}
    }
    let matching = rows.len();
    let rows = rows
        .into_iter()
        .skip(filter.page.saturating_mul(PAGE_SIZE))
        .take(PAGE_SIZE)
        .cloned()
        .collect();
    NodePage {
        rows,
        matching,
        page: filter.page,
        models: models.into_iter().map(str::to_string).collect(),
        stale_since: None,
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

/// Server-side answers over the index, shared by server functions, the JSON API and the
/// live streams.
#[cfg(feature = "ssr")]
pub mod answers {
    use std::collections::BTreeSet;

    use super::{select, GpuSummary, NodeFilter, NodePage, PendingPod, PENDING_SHOWN};
    use crate::auth::rules::{Action, Principal};
    use crate::auth::server::format_unix;
    use crate::error::AppError;
    use crate::state::AppState;

    /// Whether `principal` may see the inventory: Gantry lets every user view, and the
    /// cluster's RBAC must let them list nodes (a SubjectAccessReview for the impersonated
    /// user, cached 30 s).
    pub async fn check_visible(state: &AppState, principal: &Principal) -> Result<(), AppError> {
        principal.check(Action::View, None)?;
        let groups = &state.auth.impersonate_groups;
        if state
            .cluster
            .allowed(principal, groups, "list", ("", "nodes"), None)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "the cluster does not let you list nodes",
            ))
        }
    }

    /// Of `namespaces`, those whose pods `principal` may list, by Gantry's rules and the
    /// cluster's: pods are shown by name only there.
    pub async fn pod_namespaces<'a>(
        state: &AppState,
        principal: &Principal,
        namespaces: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeSet<String>, AppError> {
        let groups = &state.auth.impersonate_groups;
        state
            .cluster
            .namespaces_listing(principal, groups, ("", "pods"), namespaces)
            .await
    }

    /// One page of the nodes table (the caller has checked [`check_visible`]).
    pub fn page(state: &AppState, filter: &NodeFilter) -> Result<NodePage, AppError> {
        state.inventory.page(filter, || {
            let index = state.inventory.read()?;
            let mut page = select(
                index.rows.values(),
                |name| index.nodes.get(name).map(|n| &n.labels),
                filter,
            );
            page.stale_since = index.stale_since().map(format_unix);
            Ok(page)
        })
    }

    /// The fleet's totals and the pending GPU pods `principal` may see.
    pub async fn summary(state: &AppState, principal: &Principal) -> Result<GpuSummary, AppError> {
        check_visible(state, principal).await?;
        // The index is read in one go and released before any access review is awaited.
        let (mut summary, mut waiting) = state.inventory.summary(|| {
            let index = state.inventory.read()?;
            let mut summary = GpuSummary::from_rows(index.rows.values());
            summary.stale_since = index.stale_since().map(format_unix);
            let waiting: Vec<_> = index
                .pending
                .iter()
                .filter_map(|key| index.pods.get(key).cloned())
                .collect();
            Ok((summary, waiting))
        })?;
        let visible = pod_namespaces(
            state,
            principal,
            waiting.iter().map(|p| p.namespace.as_str()),
        )
        .await?;
        let before = waiting.len();
        waiting.retain(|p| visible.contains(&p.namespace));
        summary.pending_elsewhere = before - waiting.len();
        summary.pending_count = waiting.len();
        waiting.sort_by(|a, b| {
            (a.created, &a.namespace, &a.name).cmp(&(b.created, &b.namespace, &b.name))
        });
        summary.pending = waiting
            .into_iter()
            .take(PENDING_SHOWN)
            .map(|p| PendingPod {
                since: format_unix(p.created.max(0) as u64),
                namespace: p.namespace,
                name: p.name,
                owner: p.owner,
                gpus: p.gpus,
                reason: p.unschedulable.unwrap_or_default(),
            })
            .collect();
        Ok(summary)
    }
}

#[server(endpoint = "gpu-summary")]
pub async fn get_gpu_summary() -> Result<GpuSummary, AppError> {
    use crate::auth::rules::Action;
    let who = crate::auth::server::require(Action::View, None)?;
    answers::summary(&crate::state::app_state()?, &who.principal).await
}

/// Cordons (or uncordons) a node, as the calling ops admin: the patch is impersonated, so
/// the cluster's RBAC decides too, and the attempt is audited whatever its outcome.
#[server(endpoint = "nodes/cordon")]
pub async fn set_cordon(node: String, cordon: bool) -> Result<(), AppError> {
    use crate::auth::rules::Action;
    use k8s_openapi::api::core::v1::Node;
    use kube::api::{Api, Patch, PatchParams};

    let who = crate::auth::server::require(Action::OperateCluster, None)?;
    if !detail::is_node_name(&node) {
        return Err(AppError::invalid("node", "not a node name"));
    }
    let state = crate::state::app_state()?;
    let client = state
        .cluster
        .client_as(&who.principal, &state.auth.impersonate_groups)?;
    let patch = serde_json::json!({ "spec": { "unschedulable": cordon } });
    let result = Api::<Node>::all(client)
        .patch(&node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| match e {
            kube::Error::Api(status) if status.code == 403 => {
                AppError::forbidden(format!("the cluster refused: {}", status.message))
            }
            kube::Error::Api(status) if status.code == 404 => {
                AppError::not_found(format!("node {node:?}"))
            }
            other => AppError::unavailable("Kubernetes", other.to_string()),
        });
    crate::audit::attempt(
        &state.db,
        &who.principal.username,
        if cordon {
            "node.cordon"
        } else {
            "node.uncordon"
        },
        &format!("node/{node}"),
        &format!("spec.unschedulable -> {cordon}"),
        &result,
    )
    .await?;
    result
}

/// The JSON API for scripts and dashboards (session or `Authorization: Bearer` token):
/// `GET /api/v1/gpu-nodes` (the table's filters as query parameters),
/// `GET /api/v1/gpu-nodes/{name}` and `GET /api/v1/gpu-summary`. Errors are the same JSON
/// `AppError` with its status.
#[cfg(feature = "ssr")]
pub mod api {
    use axum::extract::{Query, State};
    use axum::response::{IntoResponse, Response};
    use axum::{Extension, Json};

    use super::answers::{check_visible, page, summary};
    use super::NodeFilter;
    use crate::auth::server::Authenticated;
    use crate::error::AppError;
    use crate::state::AppState;

    pub async fn gpu_nodes(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Query(filter): Query<NodeFilter>,
    ) -> Response {
        let Some(Extension(who)) = who else {
            return AppError::Unauthenticated.into_response();
        };
        let answer = match check_visible(&state, &who.principal).await {
            Ok(()) => page(&state, &filter),
            Err(e) => Err(e),
        };
        match answer {
            Ok(page) => Json(page).into_response(),
            Err(e) => e.into_response(),
        }
    }

    pub async fn gpu_summary(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
    ) -> Response {
        let Some(Extension(who)) = who else {
            return AppError::Unauthenticated.into_response();
        };
        match summary(&state, &who.principal).await {
            Ok(summary) => Json(summary).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// The GPU node inventory, kept current by the nodes stream (`live`).
#[component]
pub fn NodesPage() -> impl IntoView {
    let model = RwSignal::new(String::new());
    let min_free = RwSignal::new(String::new());
    let readiness = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let sort = RwSignal::new(String::from("name"));
    let page = RwSignal::new(0usize);
    let filter = Memo::new(move |_| NodeFilter {
        model: model.get(),
        min_free: min_free.get().trim().parse().unwrap_or(0),
        readiness: readiness.get(),
        search: search.get(),
        sort: sort.get(),
        page: page.get(),
    });
    let data: RwSignal<Option<Result<NodePage, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::follow(
        move || {
            let f = filter.get();
            let (min_free, page) = (f.min_free.to_string(), f.page.to_string());
            format!(
                "/api/v1/gpu-nodes/stream?{}",
                crate::url::query(&[
                    ("model", &f.model),
                    ("min_free", &min_free),
                    ("readiness", &f.readiness),
                    ("search", &f.search),
                    ("sort", &f.sort),
                    ("page", &page),
                ])
            )
        },
        move |text| {
            let message: Result<Result<PageUpdate, AppError>, _> = serde_json::from_str(&text);
            data.update(|data| match message {
                Ok(Ok(PageUpdate::Snapshot(page))) => *data = Some(Ok(page)),
                Ok(Ok(PageUpdate::Delta(delta))) => {
                    if let Some(Ok(page)) = data.as_mut() {
                        delta.apply(page);
                    }
                }
                Ok(Err(error)) => *data = Some(Err(error)),
                Err(e) => {
                    *data = Some(Err(AppError::Transport {
                        reason: format!("unreadable update: {e}"),
                    }))
                }
            });
        },
        connection,
    );
    let cordon = ServerAction::<SetCordon>::new();
    let me = LocalResource::new(crate::auth::get_current_user);
    let can_operate = Signal::derive(move || {
        me.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|user| user.role.may(crate::auth::rules::Action::OperateCluster))
    });
    let on_filter = move |signal: RwSignal<String>| {
        move |ev| {
            signal.set(event_target_value(&ev));
            page.set(0);
        }
    };
    let stale = move || data.get().and_then(Result::ok).and_then(|p| p.stale_since);
    // The table is built once and then follows `result`; only errors and the first load
    // replace it.
    let error = Memo::new(move |_| data.with(|d| d.as_ref().and_then(|r| r.clone().err())));
    let loaded = Memo::new(move |_| data.with(|d| matches!(d, Some(Ok(_)))));
    let result = Memo::new(move |_| {
        data.with(|d| {
            d.as_ref()
                .and_then(|r| r.as_ref().ok())
                .cloned()
                .unwrap_or_default()
        })
    });
    view! {
        <Title text="GPU nodes" />
        <section class="page">
            <div class="page-head">
                <h1>"GPU nodes"</h1>
                <LiveBadge connection />
            </div>
            <p class="lead">"Every node with GPUs: model, capacity, allocated, free and health."</p>
            <StaleNotice since=Signal::derive(stale) />
            <div class="filters" role="search" aria-label="Filter nodes">
                <label>
                    "Model"
                    <select aria-label="GPU model" on:change=on_filter(model) prop:value=move || model.get()>
                        <option value="">"All models"</option>
                        {move || {
                            data.get()
                                .and_then(Result::ok)
                                .map(|p| p.models)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|m| view! { <option value=m.clone()>{m.clone()}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label>
                    "Free GPUs at least"
                    <input
                        type="number"
                        min="0"
                        aria-label="Free GPUs at least"
                        on:change=on_filter(min_free)
                        placeholder="0"
                    />
                </label>
                <label>
                    "Readiness"
                    <select aria-label="Readiness" on:change=on_filter(readiness)>
                        <option value="">"Any"</option>
                        <option value="ready">"Ready"</option>
                        <option value="not-ready">"Not ready"</option>
                    </select>
                </label>
                <label>
                    "Search"
                    <input
                        type="search"
                        aria-label="Search"
                        placeholder="gpu-h100 or gpu.family=hopper"
                        on:change=on_filter(search)
                    />
                </label>
                <label>
                    "Sort by"
                    <select aria-label="Sort by" on:change=on_filter(sort)>
                        <option value="name">"Name"</option>
                        <option value="free">"Most free"</option>
                        <option value="model">"Model"</option>
                    </select>
                </label>
            </div>
            {move || match (error.get(), loaded.get()) {
                (Some(error), _) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                (None, false) => view! { <p class="muted">"Loading…"</p> }.into_any(),
                (None, true) => view! { <NodeTable result page cordon can_operate /> }.into_any(),
            }}
            <p class="form-error" role="alert" data-testid="cordon-error">
                {move || cordon.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
        </section>
    }
}

/// The warning shown while the cluster cannot be watched: what is shown is the last known
/// state, and since when.
#[component]
pub fn StaleNotice(since: Signal<Option<String>>) -> impl IntoView {
    move || {
        since.get().map(|since| {
            view! {
                <p class="stale" role="alert" data-testid="stale">
                    <strong>{format!("Stale since {since}.")}</strong>
                    " The cluster cannot be reached; these numbers are the last known state and will update when it is back."
                </p>
            }
        })
    }
}

#[component]
fn NodeTable(
    result: Memo<NodePage>,
    page: RwSignal<usize>,
    cordon: ServerAction<SetCordon>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let pages = move || result.with(|r| r.matching.div_ceil(PAGE_SIZE).max(1));
    let current = move || result.with(|r| r.page);
    view! {
        <p class="muted" data-testid="node-count">
            {move || format!("{} nodes match", result.with(|r| r.matching))}
        </p>
        <div class="table-wrap">
            <table class="table" data-testid="nodes-table">
                <thead>
                    <tr>
                        <th>"Node"</th>
                        <th>"GPU model"</th>
                        <th>"Allocatable"</th>
                        <th>"Allocated"</th>
                        <th>"Free"</th>
                        <th>"Resources"</th>
                        <th>"Health"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    // Keyed by the row's content: a delta re-renders only the rows that
                    // changed, so a cordon being confirmed on another row stays open.
                    <For
                        each=move || result.with(|r| r.rows.clone())
                        key=|row| format!("{row:?}")
                        children=move |row| {
                            let health = health_text(&row.health);
                            let resources = row
                                .resources
                                .iter()
                                .map(|(name, (total, used))| {
                                    format!("{}: {used}/{total}", name.trim_start_matches("nvidia.com/"))
                                })
                                .collect::<Vec<_>>()
                                .join(", ");
                            let model = match (row.physical_gpus, row.replicas) {
                                (Some(gpus), Some(replicas)) => {
                                    format!("{} ({gpus} × {replicas} time-sliced)", row.model)
                                }
                                (Some(gpus), None) => format!("{} × {gpus}", row.model),
                                _ => row.model.clone(),
                            };
                            let key = row.name.clone();
                            let node = row.name.clone();
                            let cordoned = row.health.cordoned;
                            view! {
                                <tr data-node=key>
                                    <td>
                                        <a href=format!("/nodes/{}", row.name)>{row.name.clone()}</a>
                                    </td>
                                    <td>{model}</td>
                                    <td>{row.allocatable}</td>
                                    <td data-testid="allocated">{row.allocated}</td>
                                    <td data-testid="free">{row.free}</td>
                                    <td>{resources}</td>
                                    <td>{health}</td>
                                    <td>
                                        <Show when=move || can_operate.get()>
                                            <CordonButton
                                                node=node.clone()
                                                cordoned
                                                action=cordon
                                            />
                                        </Show>
                                    </td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            <button
                type="button"
                disabled=move || current() == 0
                on:click=move |_| page.set(current().saturating_sub(1))
            >
                "Previous"
            </button>
            <span>{move || format!("Page {} of {}", current() + 1, pages())}</span>
            <button
                type="button"
                disabled=move || current() + 1 >= pages()
                on:click=move |_| page.set(current() + 1)
            >
                "Next"
            </button>
        </nav>
    }
}

/// Cordon or uncordon, in two steps: the first click asks, the second does it.
#[component]
fn CordonButton(node: String, cordoned: bool, action: ServerAction<SetCordon>) -> impl IntoView {
    let asking = RwSignal::new(false);
    let verb = if cordoned { "Uncordon" } else { "Cordon" };
    let node_for_confirm = node.clone();
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button type="button" on:click=move |_| asking.set(true)>
                        {verb}
                    </button>
                }
            }
        >
            <span class="confirm">
                {format!("{verb} {node_for_confirm}?")}
                <button
                    type="button"
                    class="primary"
                    on:click={
                        let node = node.clone();
                        move |_| {
                            action.dispatch(SetCordon { node: node.clone(), cordon: !cordoned });
                            asking.set(false);
                        }
                    }
                >
                    "Confirm"
                </button>
                <button type="button" on:click=move |_| asking.set(false)>
                    "Cancel"
                </button>
            </span>
        </Show>
    }
}

fn health_text(health: &NodeHealth) -> String {
    let mut parts = vec![if health.ready { "Ready" } else { "NotReady" }.to_string()];
    if health.cordoned {
        parts.push("cordoned".into());
    }
    parts.extend(health.pressure.iter().cloned());
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, model: &str, free: i64, ready: bool, cordoned: bool) -> GpuNodeRow {
        GpuNodeRow {
            name: name.into(),
            model: model.into(),
            gpu_memory_mib: None,
            physical_gpus: Some(8),
            replicas: None,
            family: None,
            allocatable: 8,
            allocated: 8 - free,
            free,
            resources: BTreeMap::new(),
            cpu_millis: (0, 0),
            memory_bytes: (0, 0),
            health: NodeHealth {
                ready,
                cordoned,
                pressure: vec![],
            },
        }
    }

    #[test]
    fn filters_sort_and_pages() {
        // In name order, as the index keeps them.
        let rows = vec![
            row("a", "H100", 8, true, false),
            row("b", "H100", 2, true, false),
            row("c", "A100", 5, false, false),
        ];
        let only = |f: NodeFilter| {
            select(&rows, |_| None, &f)
                .rows
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(only(NodeFilter::default()), ["a", "b", "c"]);
        assert_eq!(
            only(NodeFilter {
                model: "H100".into(),
                ..Default::default()
            }),
            ["a", "b"]
        );
        assert_eq!(
            only(NodeFilter {
                min_free: 5,
                ..Default::default()
            }),
            ["a", "c"]
        );
        assert_eq!(
            only(NodeFilter {
                readiness: "not-ready".into(),
                ..Default::default()
            }),
            ["c"]
        );
        assert_eq!(
            only(NodeFilter {
                search: "a1".into(),
                ..Default::default()
            }),
            ["c"]
        );
        assert_eq!(
            only(NodeFilter {
                sort: "free".into(),
                ..Default::default()
            }),
            ["a", "c", "b"]
        );
        let many: Vec<_> = (0..120)
            .map(|i| row(&format!("n{i:03}"), "L4", 1, true, false))
            .collect();
        let third = select(
            &many,
            |_| None,
            &NodeFilter {
                page: 2,
                ..Default::default()
            },
        );
        assert_eq!((third.rows.len(), third.matching), (20, 120));
        assert_eq!(third.rows[0].name, "n100");
    }

    #[test]
    fn the_search_matches_every_word_in_names_models_and_labels() {
        let rows = vec![
            row("gpu-a", "H100", 8, true, false),
            row("gpu-b", "H100", 8, true, false),
        ];
        let labels: BTreeMap<String, String> = [
            ("nvidia.com/gpu.family".to_string(), "hopper".to_string()),
            (
                "topology.kubernetes.io/zone".to_string(),
                "eu-1".to_string(),
            ),
        ]
        .into();
        let find = |search: &str| {
            let filter = NodeFilter {
                search: search.into(),
                ..Default::default()
            };
            select(&rows, |name| (name == "gpu-b").then_some(&labels), &filter)
                .rows
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(find("gpu.family=hopper"), ["gpu-b"]);
        assert_eq!(find("h100 zone=eu-1"), ["gpu-b"]);
        assert_eq!(find("h100, gpu-"), ["gpu-a", "gpu-b"]);
        assert!(find("zone=us").is_empty());
    }

    #[test]
    fn the_summary_counts_free_gpus_only_where_pods_can_go() {
        let summary = GpuSummary::from_rows(&[
            row("a", "H100", 8, true, false),
            row("b", "H100", 8, false, false),
            row("c", "H100", 8, true, true),
            row("d", "A100", 3, true, false),
        ]);
        let h100 = summary.models.iter().find(|m| m.model == "H100").unwrap();
        assert_eq!((h100.nodes, h100.allocatable, h100.free), (3, 24, 8));
        assert_eq!(summary.not_ready, ["b"]);
        assert_eq!(summary.cordoned, ["c"]);
    }
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
