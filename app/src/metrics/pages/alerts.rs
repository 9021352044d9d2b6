//! Alerts from Prometheus where they belong: a node's on its page, a job's pods' on the job's,
//! all the caller may see on the overview, and how many fire in the header.

use leptos::prelude::*;

use crate::metrics::{get_alerts, Alerts, AlertsAbout};

/// The newest answer any alert list on the page got (`Alerts::asked`). Each list and the
/// header's count ask on their own, and the server's shared answer may be renewed between
/// their asks: without this the header could say nothing fires while the page lists a
/// firing alert, until its next ask.
#[derive(Clone, Copy)]
pub struct AlertsSeen(RwSignal<u64>);

/// Gives the page one [`AlertsSeen`] (the layout does, for every page).
pub fn provide_alerts_seen() {
    provide_context(AlertsSeen(RwSignal::new(0)));
}

/// The firing and pending alerts about `about`.
#[component]
pub fn AlertList(#[prop(into)] about: Signal<AlertsAbout>) -> impl IntoView {
    let alerts = LocalResource::new(move || get_alerts(about.get()));
    if let Some(AlertsSeen(seen)) = use_context::<AlertsSeen>() {
        Effect::new(move |_| {
            if let Some(Ok(answer)) = alerts.get() {
                if answer.asked > seen.get_untracked() {
                    seen.set(answer.asked);
                }
            }
        });
    }
    view! {
        <section class="metrics" id="alerts" data-testid="alerts">
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

/// How often the header's count is asked again (Prometheus' answer is shared for 15 s).
const COUNT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The header's count of firing alerts the caller may see, a link to the overview's list;
/// nothing when none fire, Prometheus is not configured, or the caller may not see nodes.
/// Asked again every [`COUNT_EVERY`], and at once when a list on the page got a newer answer.
#[component]
pub fn AlertCount() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    let alerts = LocalResource::new(move || {
        tick.track();
        get_alerts(AlertsAbout::All)
    });
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), COUNT_EVERY)
        {
            on_cleanup(move || handle.clear());
        }
    });
    if let Some(AlertsSeen(seen)) = use_context::<AlertsSeen>() {
        Effect::new(move |_| {
            let newest = seen.get();
            let mine = alerts
                .get_untracked()
                .and_then(Result::ok)
                .map_or(0, |a| a.asked);
            if newest > mine {
                tick.update(|t| *t += 1);
            }
        });
    }
    move || {
        let alerts = alerts.get()?.ok()?;
        let firing = alerts.alerts.iter().filter(|a| a.state == "firing").count();
        let pending = alerts.alerts.len() - firing;
        (firing > 0).then(|| {
            let noun = if firing == 1 { " alert" } else { " alerts" };
            view! {
                <a
                    class="alert-count"
                    href="/#alerts"
                    data-testid="alert-count"
                    title=format!("{firing} firing, {pending} pending")
                    aria-label=format!("{firing}{noun} firing, {pending} pending")
                >
                    {firing}
                    // A phone's header has room for the number alone (style/main.css).
                    <span class="wide-only">{noun}</span>
                </a>
            }
        })
    }
}
