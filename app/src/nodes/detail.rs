//! One GPU node in full: its row, labels, taints, a capacity bar per resource, the pods
//! holding its GPUs with what owns them, and its events.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::{health_text, GpuNodeRow, Owner, StaleNotice};
use crate::error::AppError;
use crate::live::{self, LiveBadge};

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

/// A DNS subdomain name, as node names are.
pub fn is_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// The node's events: read as the caller (Gantry does not cache events), from `default`,
/// where events about cluster-scoped objects are recorded.
#[cfg(feature = "ssr")]
async fn node_events(client: kube::Client, node: &str) -> Result<Vec<NodeEvent>, String> {
    use k8s_openapi::api::core::v1::Event;
    use kube::api::{Api, ListParams};

    let params = ListParams::default()
        .fields(&format!(
            "involvedObject.kind=Node,involvedObject.name={node}"
        ))
        .limit(100);
    let list = Api::<Event>::namespaced(client, "default")
        .list(&params)
        .await
        .map_err(|e| match e {
            kube::Error::Api(status) if status.code == 403 => {
                "the cluster does not let you read events".to_string()
            }
            other => format!("could not read events: {other}"),
        })?;
    let mut events: Vec<NodeEvent> = list
        .items
        .into_iter()
        .map(|e| {
            let last_seen = e
                .last_timestamp
                .map(|t| t.0)
                .or(e.event_time.map(|t| t.0))
                .or(e.metadata.creation_timestamp.map(|t| t.0));
            NodeEvent {
                kind: e.type_.unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
                count: e.count.unwrap_or(1),
                last_seen: last_seen.map(|t| t.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    events.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
    Ok(events)
}

#[server(endpoint = "gpu-node")]
pub async fn get_gpu_node(name: String) -> Result<NodeDetail, AppError> {
    use super::answers::{check_visible, pod_namespaces};
    use crate::auth::rules::Action;
    use crate::auth::server::format_unix;

    let who = crate::auth::server::require(Action::View, None)?;
    if !is_node_name(&name) {
        return Err(AppError::invalid("name", "not a node name"));
    }
    let state = crate::state::app_state()?;
    check_visible(&state, &who.principal).await?;
    let (row, info, pods, stale_since) = {
        let index = state.inventory.read()?;
        let row = index.rows.get(&name).cloned();
        let info = index.nodes.get(&name).cloned();
        let pods: Vec<_> = index
            .pods_on(&name)
            .filter(|p| p.gpu_total() > 0)
            .cloned()
            .collect();
        (row, info, pods, index.stale_since().map(format_unix))
    };
    let (Some(row), Some(info)) = (row, info) else {
        return Err(AppError::not_found(format!("GPU node {name:?}")));
    };
    let visible = pod_namespaces(
        &state,
        &who.principal,
        pods.iter().map(|p| p.namespace.as_str()),
    )
    .await?;
    let (shown, hidden): (Vec<_>, Vec<_>) = pods
        .into_iter()
        .partition(|p| visible.contains(&p.namespace));
    let client = state
        .cluster
        .client_as(&who.principal, &state.auth.impersonate_groups)?;
    Ok(NodeDetail {
        row,
        labels: info.labels,
        taints: info.taints,
        hidden_pods: hidden.len(),
        hidden_gpus: hidden.iter().map(|p| p.gpu_total()).sum(),
        pods: shown
            .into_iter()
            .map(|p| GpuPod {
                namespace: p.namespace,
                name: p.name,
                owner: p.owner,
                gpus: p.gpus,
            })
            .collect(),
        events: node_events(client, &name).await,
        stale_since,
    })
}

/// `/nodes/{name}`: reloaded whenever the nodes stream reports a change to this node.
#[component]
pub fn NodeDetailPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let changed = RwSignal::new(0u64);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::follow(
        move || {
            format!(
                "/api/v1/gpu-nodes/stream?{}",
                crate::url::query(&[("search", &name.get())])
            )
        },
        move |_| changed.update(|n| *n += 1),
        connection,
    );
    let detail = LocalResource::new(move || {
        changed.get();
        get_gpu_node(name.get())
    });
    view! {
        <Title text=move || name.get() />
        <section class="page">
            <p><a href="/nodes">"← GPU nodes"</a></p>
            <div class="page-head">
                <h1>{move || name.get()}</h1>
                <LiveBadge connection />
            </div>
            {move || match detail.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(detail)) => view! { <NodeDetailView detail /> }.into_any(),
            }}
        </section>
    }
}

/// A labelled bar: `used` of `total`, with the numbers written out.
#[component]
fn CapacityBar(label: String, used: i64, total: i64, unit: &'static str) -> impl IntoView {
    let percent = if total > 0 {
        (100 * used / total).clamp(0, 100)
    } else {
        0
    };
    let text = format!("{used} of {total}{unit} allocated");
    view! {
        <div class="capacity" data-resource=label.clone()>
            <span class="capacity-label">{label.clone()}</span>
            <progress max="100" value=percent aria-label=format!("{label}: {text}")></progress>
            <span class="capacity-text">{text}</span>
        </div>
    }
}

#[component]
fn NodeDetailView(detail: NodeDetail) -> impl IntoView {
    let row = detail.row;
    let mut bars: Vec<(String, i64, i64, &'static str)> = row
        .resources
        .iter()
        .map(|(resource, (total, used))| (resource.clone(), *used, *total, ""))
        .collect();
    bars.push((
        "cpu (millicores)".into(),
        row.cpu_millis.1,
        row.cpu_millis.0,
        " m",
    ));
    bars.push((
        "memory (GiB)".into(),
        row.memory_bytes.1 >> 30,
        row.memory_bytes.0 >> 30,
        " GiB",
    ));
    let facts = [
        ("GPU model", row.model.clone()),
        (
            "GPU family",
            row.family.clone().unwrap_or_else(|| "–".into()),
        ),
        (
            "GPU memory",
            row.gpu_memory_mib
                .map(|m| format!("{m} MiB"))
                .unwrap_or_else(|| "–".into()),
        ),
        (
            "Physical GPUs",
            row.physical_gpus
                .map(|n| n.to_string())
                .unwrap_or_else(|| "–".into()),
        ),
        (
            "Time-slicing replicas",
            row.replicas
                .map(|n| n.to_string())
                .unwrap_or_else(|| "–".into()),
        ),
        ("Free GPUs", row.free.to_string()),
        ("Health", health_text(&row.health)),
        (
            "Taints",
            if detail.taints.is_empty() {
                "none".into()
            } else {
                detail.taints.join(", ")
            },
        ),
    ];
    let owner_text = |owner: &Option<Owner>| {
        owner
            .as_ref()
            .map(|o| format!("{} {}", o.kind, o.name))
            .unwrap_or_else(|| "–".into())
    };
    let gpus_text = |gpus: &BTreeMap<String, i64>| {
        gpus.iter()
            .map(|(r, n)| format!("{n} × {}", r.trim_start_matches("nvidia.com/")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <StaleNotice since=Signal::derive(move || detail.stale_since.clone()) />
        <dl class="facts" data-testid="node-facts">
            {facts
                .into_iter()
                .map(|(k, v)| view! { <dt>{k}</dt> <dd>{v}</dd> })
                .collect_view()}
        </dl>
        <h2>"Capacity"</h2>
        <div class="capacities" data-testid="capacity">
            {bars
                .into_iter()
                .map(|(label, used, total, unit)| view! { <CapacityBar label used total unit /> })
                .collect_view()}
        </div>
        <h2>"Pods holding GPUs"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="gpu-pods">
                <thead>
                    <tr>
                        <th>"Namespace"</th>
                        <th>"Pod"</th>
                        <th>"Owner"</th>
                        <th>"GPUs"</th>
                    </tr>
                </thead>
                <tbody>
                    {detail
                        .pods
                        .iter()
                        .map(|p| {
                            view! {
                                <tr data-pod=p.name.clone()>
                                    <td>{p.namespace.clone()}</td>
                                    <td>{p.name.clone()}</td>
                                    <td>{owner_text(&p.owner)}</td>
                                    <td>{gpus_text(&p.gpus)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {(detail.pods.is_empty() && detail.hidden_pods == 0)
            .then(|| view! { <p class="muted">"No pod holds GPUs on this node."</p> })}
        {(detail.hidden_pods > 0)
            .then(|| {
                view! {
                    <p class="muted" data-testid="hidden-pods">
                        {format!(
                            "{} more pods hold {} GPUs in namespaces you cannot see.",
                            detail.hidden_pods,
                            detail.hidden_gpus,
                        )}
                    </p>
                }
            })}
        <h2>"Events"</h2>
        {match detail.events {
            Err(reason) => view! { <p class="muted">{reason}</p> }.into_any(),
            Ok(events) if events.is_empty() => {
                view! { <p class="muted">"No recent events."</p> }.into_any()
            }
            Ok(events) => {
                view! {
                    <ul class="events" data-testid="node-events">
                        {events
                            .into_iter()
                            .map(|e| {
                                view! {
                                    <li class=format!("event {}", e.kind.to_lowercase())>
                                        <strong>{e.reason}</strong>
                                        " "
                                        {e.message}
                                        <span class="muted">
                                            {format!(" ×{} · {}", e.count, e.last_seen)}
                                        </span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }
        }}
        <h2>"Labels"</h2>
        <ul class="labels" data-testid="node-labels">
            {detail
                .labels
                .into_iter()
                .map(|(k, v)| view! { <li><code>{format!("{k}={v}")}</code></li> })
                .collect_view()}
        </ul>
    }
}
