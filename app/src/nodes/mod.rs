//! GPU nodes: every GPU node with its model, capacity, allocation and health, and the
//! fleet's totals by model for the overview.
//!
//! Answers come from watch-backed caches of Nodes and Pods (`cache`), never from a LIST per
//! request; the arithmetic is in `inventory`.

#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod inventory;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Ready, cordoned, and which pressure conditions are on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHealth {
    pub ready: bool,
    pub cordoned: bool,
    pub pressure: Vec<String>,
}

/// One GPU node as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuNodeRow {
    pub name: String,
    /// `nvidia.com/gpu.product`, or `unknown`.
    pub model: String,
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
    pub health: NodeHealth,
}

/// Filters, sort and page of the nodes table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeFilter {
    /// Exact GPU model, or empty for all.
    pub model: String,
    /// Only nodes with at least this many free GPUs.
    pub min_free: i64,
    /// `ready`, `not-ready`, or empty for both.
    pub readiness: String,
    /// A substring of the node's name or model.
    pub search: String,
    /// `name` (default), `free` (most free first) or `model`.
    pub sort: String,
    /// 0-based page of [`PAGE_SIZE`] rows.
    pub page: usize,
}

pub const PAGE_SIZE: usize = 50;

/// One page of the table and how many rows match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePage {
    pub rows: Vec<GpuNodeRow>,
    pub matching: usize,
    pub page: usize,
    pub models: Vec<String>,
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

/// The fleet at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuSummary {
    pub models: Vec<ModelSummary>,
    pub not_ready: Vec<String>,
    pub cordoned: Vec<String>,
}

impl GpuSummary {
    pub fn from_rows(rows: &[GpuNodeRow]) -> GpuSummary {
        let mut models: BTreeMap<&str, ModelSummary> = BTreeMap::new();
        for row in rows {
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
                .iter()
                .filter(|r| !r.health.ready)
                .map(|r| r.name.clone())
                .collect(),
            cordoned: rows
                .iter()
                .filter(|r| r.health.cordoned)
                .map(|r| r.name.clone())
                .collect(),
        }
    }
}

/// Applies `filter`'s conditions, sort and page to all rows; only the page is copied.
pub fn select(all: &[GpuNodeRow], filter: &NodeFilter) -> NodePage {
    let mut models: Vec<String> = all.iter().map(|r| r.model.clone()).collect();
    let mut rows: Vec<&GpuNodeRow> = all.iter().collect();
    models.sort();
    models.dedup();
    let search = filter.search.trim().to_lowercase();
    rows.retain(|r| {
        (filter.model.is_empty() || r.model == filter.model)
            && r.free >= filter.min_free
            && match filter.readiness.as_str() {
                "ready" => r.health.ready,
                "not-ready" => !r.health.ready,
                _ => true,
            }
            && (search.is_empty()
                || r.name.to_lowercase().contains(&search)
                || r.model.to_lowercase().contains(&search))
    });
    match filter.sort.as_str() {
        "free" => rows.sort_by(|a, b| b.free.cmp(&a.free).then_with(|| a.name.cmp(&b.name))),
        "model" => rows.sort_by(|a, b| a.model.cmp(&b.model).then_with(|| a.name.cmp(&b.name))),
        _ => rows.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    let matching = rows.len();
    let rows = rows
        .into_iter()
        .skip(filter.page * PAGE_SIZE)
        .take(PAGE_SIZE)
        .cloned()
        .collect();
    NodePage {
        rows,
        matching,
        page: filter.page,
        models,
    }
}

/// The rows `principal` may see: everyone Gantry lets in, if the cluster's RBAC lets them
/// list nodes (a SubjectAccessReview for the impersonated user, cached 30 s).
#[cfg(feature = "ssr")]
async fn visible_rows(
    state: &crate::state::AppState,
    principal: &crate::auth::rules::Principal,
) -> Result<std::sync::Arc<Vec<GpuNodeRow>>, AppError> {
    use crate::auth::rules::Action;
    principal.check(Action::View, None)?;
    let groups = &state.auth.impersonate_groups;
    if !state
        .cluster
        .allowed(principal, groups, "list", ("", "nodes"), None)
        .await?
    {
        return Err(AppError::forbidden(
            "the cluster does not let you list nodes",
        ));
    }
    state.inventory.rows().await
}

#[cfg(feature = "ssr")]
async fn caller_rows() -> Result<std::sync::Arc<Vec<GpuNodeRow>>, AppError> {
    use crate::auth::rules::Action;
    let who = crate::auth::server::require(Action::View, None)?;
    visible_rows(&crate::state::app_state()?, &who.principal).await
}

#[server(endpoint = "gpu-nodes")]
pub async fn list_gpu_nodes(filter: NodeFilter) -> Result<NodePage, AppError> {
    Ok(select(&caller_rows().await?, &filter))
}

#[server(endpoint = "gpu-summary")]
pub async fn get_gpu_summary() -> Result<GpuSummary, AppError> {
    Ok(GpuSummary::from_rows(&caller_rows().await?))
}

/// Cordons (or uncordons) a node, as the calling ops admin: the patch is impersonated, so
/// the cluster's RBAC decides too, and the attempt is audited whatever its outcome.
#[server(endpoint = "nodes/cordon")]
pub async fn set_cordon(node: String, cordon: bool) -> Result<(), AppError> {
    use crate::auth::rules::Action;
    use k8s_openapi::api::core::v1::Node;
    use kube::api::{Api, Patch, PatchParams};

    let who = crate::auth::server::require(Action::OperateCluster, None)?;
    let valid = !node.is_empty()
        && node.len() <= 253
        && node
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !valid {
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
    let outcome = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    crate::audit::record(
        &state.db,
        &who.principal.username,
        if cordon {
            "node.cordon"
        } else {
            "node.uncordon"
        },
        &format!("node/{node}"),
        &format!("spec.unschedulable -> {cordon}"),
        &outcome,
        &crate::auth::server::client_address(),
    )
    .await?;
    result?;
    // Answer once the cache has seen the change, so the page reloads the new state.
    for _ in 0..40 {
        let seen = state
            .inventory
            .rows()
            .await
            .ok()
            .and_then(|rows| rows.iter().find(|r| r.name == node).cloned())
            .is_some_and(|r| r.health.cordoned == cordon);
        if seen {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The JSON API for scripts and dashboards (session or `Authorization: Bearer` token):
/// `GET /api/v1/gpu-nodes` (the table's filters as query parameters) and
/// `GET /api/v1/gpu-summary`. Errors are the same JSON `AppError` with its status.
#[cfg(feature = "ssr")]
pub mod api {
    use axum::extract::{Query, State};
    use axum::response::{IntoResponse, Response};
    use axum::{Extension, Json};

    use super::{select, visible_rows, GpuSummary, NodeFilter};
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
        match visible_rows(&state, &who.principal).await {
            Ok(rows) => Json(select(&rows, &filter)).into_response(),
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
        match visible_rows(&state, &who.principal).await {
            Ok(rows) => Json(GpuSummary::from_rows(&rows)).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// The GPU node inventory.
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
    let cordon = ServerAction::<SetCordon>::new();
    // Fetched by the browser after hydration (see audit::AuditLog for why), and again after
    // each cordon or uncordon.
    let data = LocalResource::new(move || {
        cordon.version().get();
        list_gpu_nodes(filter.get())
    });
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
    view! {
        <Title text="GPU nodes" />
        <section class="page">
            <h1>"GPU nodes"</h1>
            <p class="lead">"Every node with GPUs: model, capacity, allocated, free and health."</p>
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
                        placeholder="gpu-h100"
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
            {move || match data.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(result)) => view! { <NodeTable result page cordon can_operate /> }.into_any(),
            }}
            <p class="form-error" role="alert" data-testid="cordon-error">
                {move || cordon.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
        </section>
    }
}

#[component]
fn NodeTable(
    result: NodePage,
    page: RwSignal<usize>,
    cordon: ServerAction<SetCordon>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let pages = result.matching.div_ceil(PAGE_SIZE).max(1);
    let current = result.page;
    view! {
        <p class="muted" data-testid="node-count">
            {format!("{} nodes match", result.matching)}
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
                    {result
                        .rows
                        .into_iter()
                        .map(|row| {
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
                                    <td>{row.name}</td>
                                    <td>{model}</td>
                                    <td>{row.allocatable}</td>
                                    <td>{row.allocated}</td>
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
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            <button type="button" disabled=current == 0 on:click=move |_| page.set(current - 1)>
                "Previous"
            </button>
            <span>{format!("Page {} of {pages}", current + 1)}</span>
            <button
                type="button"
                disabled=current + 1 >= pages
                on:click=move |_| page.set(current + 1)
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
            allocatable: 8,
            allocated: 8 - free,
            free,
            resources: BTreeMap::new(),
            health: NodeHealth {
                ready,
                cordoned,
                pressure: vec![],
            },
        }
    }

    #[test]
    fn filters_sort_and_pages() {
        let rows = vec![
            row("b", "H100", 2, true, false),
            row("a", "H100", 8, true, false),
            row("c", "A100", 5, false, false),
        ];
        let only = |f: NodeFilter| {
            select(&rows, &f)
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
            &NodeFilter {
                page: 2,
                ..Default::default()
            },
        );
        assert_eq!((third.rows.len(), third.matching), (20, 120));
        assert_eq!(third.rows[0].name, "n100");
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
