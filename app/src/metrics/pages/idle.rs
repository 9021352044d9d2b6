//! The overview's "Allocated but idle" table: the pods holding GPUs they have not used, the
//! one an ops admin acts on.

use leptos::prelude::*;

use crate::metrics::{get_idle_gpus, IdleGpus};

#[component]
pub fn IdleTable() -> impl IntoView {
    let idle = LocalResource::new(get_idle_gpus);
    view! {
        <section class="metrics" data-testid="gpu-idle">
            <h2>"Allocated but idle"</h2>
            {move || match idle.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(idle)) => view! { <IdleView idle /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn IdleView(idle: IdleGpus) -> impl IntoView {
    if !idle.configured {
        return view! {
            <p class="muted">"Prometheus not configured: set GANTRY_PROMETHEUS_URL to find idle GPUs."</p>
        }
        .into_any();
    }
    if let Some(reason) = idle.error {
        return view! { <p class="notice" role="status">{format!("Idle GPUs unknown: {reason}")}</p> }
            .into_any();
    }
    let rule = format!(
        "Pods holding GPUs that stayed under {} % for the last {} minutes.",
        idle.percent, idle.minutes
    );
    let hidden = (idle.hidden > 0).then(|| {
        view! {
            <p class="muted">
                {format!("{} more in namespaces you cannot see.", idle.hidden)}
            </p>
        }
    });
    let body = if idle.rows.is_empty() {
        view! { <p class="muted">"None: every allocated GPU is in use."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th>"Namespace"</th>
                            <th>"Pod"</th>
                            <th>"Owner"</th>
                            <th>"Node"</th>
                            <th>"GPUs"</th>
                            <th>"Busiest (%)"</th>
                            <th>"Idle GPU-hours (at least)"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {idle
                            .rows
                            .into_iter()
                            .map(|row| {
                                let key = format!("{}/{}", row.namespace, row.pod);
                                view! {
                                    <tr data-pod=key>
                                        <td>{row.namespace}</td>
                                        <td>{row.pod}</td>
                                        <td>{row.owner.unwrap_or_else(|| "-".into())}</td>
                                        <td>
                                            <a href=format!("/nodes/{}", crate::url::encode_component(&row.node))>
                                                {row.node.clone()}
                                            </a>
                                        </td>
                                        <td class="num">{row.gpus}</td>
                                        <td class="num">{format!("{:.1}", row.busiest_percent)}</td>
                                        <td class="num">{format!("{:.1}", row.idle_gpu_hours)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <p class="muted">{rule}</p>
        {body}
        {hidden}
    }
    .into_any()
}
