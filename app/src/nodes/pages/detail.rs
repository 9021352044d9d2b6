//! `/nodes/{name}`: one GPU node in full: its row, labels, taints, a capacity bar per
//! resource, the pods holding its GPUs with what owns them, and its events.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::list::health_text;
use crate::error::AppError;
use crate::layout::StaleNotice;
use crate::live::{self, LiveBadge};
use crate::nodes::{NodeDetail, Owner};

/// `/nodes/{name}`: the node in full, pushed again by the node's own stream whenever it or
/// the GPU pods on it change.
#[component]
pub fn NodeDetailPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let detail: RwSignal<Option<Result<NodeDetail, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::subscribe(
        move || {
            format!(
                "/api/v1/gpu-nodes/{}/stream",
                crate::url::encode_component(&name.get())
            )
        },
        move |message| detail.set(Some(message)),
        connection,
    );
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
            // Outside the live part: the stream's updates do not redraw (or refetch) charts.
            <crate::metrics::pages::alerts::AlertList about=Signal::derive(move || {
                crate::metrics::AlertsAbout::Node(name.get())
            }) />
            <crate::metrics::pages::charts::ChartsSection
                testid="node-metrics"
                off="Prometheus not configured: set GANTRY_PROMETHEUS_URL to chart this node's GPUs."
                fetch=move |p| crate::metrics::get_node_charts(name.get(), p.range, p.from, p.to)
            />
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
