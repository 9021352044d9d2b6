//! Alerts from Prometheus where they belong: a node's on its page, all the caller may see on
//! the overview.

use leptos::prelude::*;

use crate::metrics::{get_alerts, Alerts};

/// The firing and pending alerts about `node`, or about anything when `node` is `None`.
#[component]
pub fn AlertList(#[prop(into)] node: Signal<Option<String>>) -> impl IntoView {
    let alerts = LocalResource::new(move || get_alerts(node.get()));
    view! {
        <section class="metrics" data-testid="alerts">
            <h2>"Alerts"</h2>
            {move || match alerts.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(alerts)) => view! { <AlertsView alerts /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn AlertsView(alerts: Alerts) -> impl IntoView {
    if !alerts.configured {
        return view! { <p class="muted">"Prometheus not configured."</p> }.into_any();
    }
    if let Some(reason) = alerts.error {
        return view! { <p class="notice" role="status">{format!("Alerts unknown: {reason}")}</p> }
            .into_any();
    }
    if alerts.alerts.is_empty() {
        return view! { <p class="muted">"None firing."</p> }.into_any();
    }
    view! {
        <ul class="alerts">
            {alerts
                .alerts
                .into_iter()
                .map(|a| {
                    let about = match (&a.namespace, &a.pod, &a.node) {
                        (Some(ns), Some(pod), _) => format!("{ns}/{pod}"),
                        (_, _, Some(node)) => node.clone(),
                        _ => String::new(),
                    };
                    let (name, state) = (a.name.clone(), a.state.clone());
                    view! {
                        <li data-alert=name data-state=state>
                            <strong>{a.name}</strong>
                            {format!(" ({}, {}) {about} since {}: ", a.state, a.severity, a.since)}
                            {a.summary}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}
