//! The Models area's pages: `registry` (the registered models and one model's versions and
//! files), `version` (one version and its lineage), `runs` (the experiments, an experiment's
//! runs, one run with its charts) and `compare` (runs or versions side by side). What MLflow
//! code logs and registers appears here; `links` opens it from the links MLflow prints.

pub mod compare;
pub mod links;
pub mod registry;
pub mod runs;
pub mod version;

use leptos::prelude::*;

/// The Models area's two lists, each linking to the other.
#[component]
pub fn ModelsTabs(current: &'static str) -> impl IntoView {
    let tab = move |href: &'static str, label: &'static str| {
        let here = (href == current).then_some("page");
        view! { <a href=href aria-current=here>{label}</a> }
    };
    view! {
        <nav class="tabs" aria-label="Models">
            {tab("/models", "Registered models")}
            {tab("/experiments", "Experiments")}
        </nav>
    }
}

/// A registered model's page.
pub fn model_href(name: &str) -> String {
    format!("/models/{}", crate::url::encode_component(name))
}

/// A version's page.
pub fn version_href(name: &str, version: i64) -> String {
    format!("{}/versions/{version}", model_href(name))
}

/// The "← model" line above a page about one model (a version, a comparison, where it
/// served).
#[component]
pub fn BackToModel(name: Signal<String>) -> impl IntoView {
    view! {
        <p>
            <a href=move || model_href(&name.get())>{move || format!("← {}", name.get())}</a>
        </p>
    }
}

/// `key → value` rows (params, tags, metrics), or a line saying there are no `what`.
pub fn pairs_table(rows: Vec<(String, String)>, what: &str, testid: &str) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted">{format!("No {what}.")}</p> }.into_any();
    }
    view! {
        <table class="table" data-testid=testid.to_string()>
            <tbody>
                {rows
                    .into_iter()
                    .map(|(k, v)| view! { <tr><th scope="row">{k}</th><td class="mono">{v}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
