//! Overview: the state of the whole GPU fleet on one screen.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;
use crate::layout::StaleNotice;
use crate::live::{self, LiveBadge};
use crate::nodes::{GpuSummary, PendingPod};

/// The landing page: GPUs by model, how many are free, the nodes that need attention and
/// the pods waiting for GPUs, kept current by the summary stream.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let summary: RwSignal<Option<Result<GpuSummary, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::subscribe(
        || "/api/v1/gpu-summary/stream".to_string(),
        move |message| summary.set(Some(message)),
        connection,
    );
    let stale = move || {
        summary
            .get()
            .and_then(Result::ok)
            .and_then(|s| s.stale_since)
    };
    view! {
        <Title text="Overview" />
        <section class="page">
            <div class="page-head">
                <h1>"Overview"</h1>
                <LiveBadge connection />
            </div>
            <p class="lead">
                "How many GPUs the cluster has and how many are free right now."
            </p>
            <StaleNotice since=Signal::derive(stale) />
            {move || match summary.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(summary)) => view! { <FleetSummary summary /> }.into_any(),
            }}
            <crate::metrics::pages::charts::ChartsSection
                testid="fleet-metrics"
                title="GPUs allocated and busy"
                initial="6h"
                off="Prometheus not configured: set GANTRY_PROMETHEUS_URL to chart the fleet's GPUs."
                fetch=|p| crate::metrics::get_fleet_chart(p.range, p.from, p.to)
            />
            <crate::metrics::pages::idle::IdleTable />
            <crate::metrics::pages::alerts::AlertList about=Signal::derive(|| crate::metrics::AlertsAbout::All) />
        </section>
    }
}

#[component]
fn FleetSummary(summary: GpuSummary) -> impl IntoView {
    let attention = |label: &'static str, names: Vec<String>| {
        (!names.is_empty()).then(|| {
            view! {
                <p class="attention">
                    <strong>{label}</strong>
                    " "
                    {names.join(", ")}
                </p>
            }
        })
    };
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="gpu-summary">
                <thead>
                    <tr>
                        <th>"GPU model"</th>
                        <th>"Nodes"</th>
                        <th>"GPUs"</th>
                        <th>"Allocated"</th>
                        <th>"Free"</th>
                        <th>"Allocated share"</th>
                    </tr>
                </thead>
                <tbody>
                    {summary
                        .models
                        .into_iter()
                        .map(|m| {
                            let share = if m.allocatable > 0 {
                                format!("{:.0} %", 100.0 * m.allocated as f64 / m.allocatable as f64)
                            } else {
                                "–".into()
                            };
                            let key = m.model.clone();
                            view! {
                                <tr data-model=key>
                                    <td>{m.model}</td>
                                    <td>{m.nodes}</td>
                                    <td>{m.allocatable}</td>
                                    <td>{m.allocated}</td>
                                    <td data-testid="free">{m.free}</td>
                                    <td>{share}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {attention("Not ready:", summary.not_ready)}
        {attention("Cordoned:", summary.cordoned)}
        <h2>"Waiting for GPUs"</h2>
        <PendingPods
            pending=summary.pending
            count=summary.pending_count
            elsewhere=summary.pending_elsewhere
        />
    }
}

/// Pods the scheduler could not place, with its reason.
#[component]
fn PendingPods(pending: Vec<PendingPod>, count: usize, elsewhere: usize) -> impl IntoView {
    let more = count.saturating_sub(pending.len());
    view! {
        {pending.is_empty().then(|| view! { <p class="muted">"No pod is waiting for GPUs."</p> })}
        {(!pending.is_empty())
            .then(|| {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="pending-pods">
                            <thead>
                                <tr>
                                    <th>"Namespace"</th>
                                    <th>"Pod"</th>
                                    <th>"Owner"</th>
                                    <th>"Asks for"</th>
                                    <th>"Waiting since"</th>
                                    <th>"Scheduler's reason"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {pending
                                    .into_iter()
                                    .map(|p| {
                                        let asks = p
                                            .gpus
                                            .iter()
                                            .map(|(r, n)| format!("{n} × {}", r.trim_start_matches("nvidia.com/")))
                                            .collect::<Vec<_>>()
                                            .join(", ");
                                        let owner = p
                                            .owner
                                            .map(|o| format!("{} {}", o.kind, o.name))
                                            .unwrap_or_else(|| "–".into());
                                        let key = p.name.clone();
                                        view! {
                                            <tr data-pod=key>
                                                <td>{p.namespace}</td>
                                                <td>{p.name}</td>
                                                <td>{owner}</td>
                                                <td>{asks}</td>
                                                <td>{p.since}</td>
                                                <td class="reason">{p.reason}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
            })}
        {(more > 0).then(|| view! { <p class="muted">{format!("… and {more} more.")}</p> })}
        {(elsewhere > 0)
            .then(|| {
                view! {
                    <p class="muted">
                        {format!("{elsewhere} more in namespaces you cannot see.")}
                    </p>
                }
            })}
    }
}
