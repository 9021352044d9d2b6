//! A service's record on its page: what it served when (the history), its pods and its
//! events, each following the stream.

use leptos::prelude::*;

use crate::serving::ServiceDetail;

/// What it served when, and who changed it.
#[component]
pub fn History(detail: Memo<ServiceDetail>) -> impl IntoView {
    view! {
        <h2>"History"</h2>
        <p class="muted">
            "What it served when, and who changed it: every change the watches saw, made in Gantry or not."
        </p>
        <div class="table-wrap">
            <table class="table" data-testid="history">
                <thead>
                    <tr>
                        <th>"When"</th>
                        <th>"Who"</th>
                        <th>"Change"</th>
                        <th>"Model served"</th>
                        <th>"Replicas"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        detail
                            .with(|d| d.history.clone())
                            .into_iter()
                            .map(|h| {
                                view! {
                                    <tr>
                                        <td>{h.at}</td>
                                        <td>{h.actor}</td>
                                        <td class="wrap">{h.change}</td>
                                        <td class="wrap">{h.model}</td>
                                        <td>{h.replicas}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
    }
}

/// Its pods: phase, readiness, restarts, node and revision.
#[component]
pub fn Pods(detail: Memo<ServiceDetail>) -> impl IntoView {
    view! {
        <h2>"Pods"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="service-pods">
                <thead>
                    <tr>
                        <th>"Pod"</th>
                        <th>"Phase"</th>
                        <th>"Ready"</th>
                        <th>"Restarts"</th>
                        <th>"Node"</th>
                        <th>"Revision"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        detail
                            .with(|d| d.pods.clone())
                            .into_iter()
                            .map(|p| {
                                view! {
                                    <tr data-pod=p.name.clone()>
                                        <td>{p.name.clone()}</td>
                                        <td>{p.phase}</td>
                                        <td>{if p.ready { "yes" } else { "no" }}</td>
                                        <td>{p.restarts}</td>
                                        <td>{p.node.unwrap_or_else(|| "–".into())}</td>
                                        <td>
                                            {p.revision.map(|r| r.to_string()).unwrap_or_else(|| "–".into())}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
    }
}

/// The recent events of the service, its ReplicaSets and pods.
#[component]
pub fn Events(detail: Memo<ServiceDetail>) -> impl IntoView {
    view! {
        <h2>"Events"</h2>
        {move || {
            let events = detail.with(|d| d.events.clone());
            if events.is_empty() {
                return view! { <p class="muted">"No recent events."</p> }.into_any();
            }
            view! {
                <ul class="events" data-testid="service-events">
                    {events
                        .into_iter()
                        .map(|e| {
                            view! {
                                <li class=format!("event {}", e.kind.to_lowercase())>
                                    <strong>{e.reason}</strong>
                                    " "
                                    {e.object}
                                    ": "
                                    {e.message}
                                    <span class="muted">{format!(" · {}", e.last_seen)}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
}
