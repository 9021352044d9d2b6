//! Overview: the state of the whole GPU fleet on one screen.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::nodes::{get_gpu_summary, GpuSummary};

/// The landing page: GPUs by model, how many are free, and the nodes that need attention.
#[component]
pub fn OverviewPage() -> impl IntoView {
    // Fetched by the browser after hydration (see audit::AuditLog for why).
    let summary = LocalResource::new(get_gpu_summary);
    view! {
        <Title text="Overview" />
        <section class="page">
            <h1>"Overview"</h1>
            <p class="lead">
                "How many GPUs the cluster has and how many are free right now."
            </p>
            {move || match summary.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(summary)) => view! { <FleetSummary summary /> }.into_any(),
            }}
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
    }
}
