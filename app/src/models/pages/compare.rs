//! `/compare/runs?ids=…&ids=…`: runs side by side; `/models/{name}/compare?v=1&v=2`: versions
//! side by side, each through its run. The experiment's runs table and the model's versions
//! table link here with a plain GET form of checkboxes, so choosing works before hydration.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::BackToModel;
use crate::error::AppError;
use crate::models::{compare_runs, compare_versions, ComparedRow, Comparison, COMPARE_LIMIT};

/// The runs whose ids the query names.
#[component]
pub fn CompareRunsPage() -> impl IntoView {
    let query = use_query_map();
    let ids = move || query.read().get_all("ids").unwrap_or_default();
    let comparison = LocalResource::new(move || compare_runs(ids()));
    view! {
        <Title text="Compare runs" />
        <section class="page">
            <p>
                <a href="/experiments">"← Experiments"</a>
            </p>
            <h1>"Compare runs"</h1>
            <Compared comparison />
        </section>
    }
}

/// The versions of a model that the query names (`v`).
#[component]
pub fn CompareVersionsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let comparison = LocalResource::new(move || {
        let (name, asked) = (name(), query.read().get_all("v").unwrap_or_default());
        async move {
            let mut versions = Vec::with_capacity(asked.len());
            for text in asked {
                versions.push(text.trim().parse::<i64>().map_err(|_| {
                    AppError::invalid("v", format!("{text:?} is not a version number"))
                })?);
            }
            compare_versions(name, versions).await
        }
    });
    view! {
        <Title text="Compare versions" />
        <section class="page">
            <BackToModel name=Signal::derive(name) />
            <h1>{move || format!("Compare versions of {}", name())}</h1>
            <Compared comparison />
        </section>
    }
}

#[component]
fn Compared(comparison: LocalResource<Result<Comparison, AppError>>) -> impl IntoView {
    move || match comparison.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
        Some(Ok(comparison)) => view! { <ComparisonView comparison /> }.into_any(),
    }
}

#[component]
fn ComparisonView(comparison: Comparison) -> impl IntoView {
    let only_differences = RwSignal::new(false);
    let Comparison {
        columns,
        facts,
        params,
        metrics,
    } = comparison;
    let head = view! {
        <thead>
            <tr>
                <th></th>
                {columns
                    .iter()
                    .map(|c| {
                        let label = c.label.clone();
                        if c.href.is_empty() {
                            view! { <th scope="col">{label}</th> }.into_any()
                        } else {
                            view! {
                                <th scope="col">
                                    <a href=c.href.clone()>{label}</a>
                                </th>
                            }
                                .into_any()
                        }
                    })
                    .collect_view()}
            </tr>
        </thead>
    };
    let differing = params.iter().chain(&metrics).filter(|r| r.differs).count();
    view! {
        <p class="lead" data-testid="compare-summary">
            {format!(
                "{} side by side; {differing} of {} params and metrics differ (marked ≠).",
                columns.len(),
                params.len() + metrics.len(),
            )}
        </p>
        <label class="check">
            <input
                type="checkbox"
                prop:checked=move || only_differences.get()
                on:change=move |ev| only_differences.set(event_target_checked(&ev))
            />
            "Show only what differs"
        </label>
        <div class="table-wrap">
            <table class="table compare" data-testid="compare-table">
                {head}
                <Rows id="facts" title="Facts" rows=facts width=columns.len() only_differences />
                <Rows id="params" title="Parameters" rows=params width=columns.len() only_differences />
                <Rows id="metrics" title="Metrics (latest)" rows=metrics width=columns.len() only_differences />
            </table>
        </div>
    }
}

/// One group of rows under its heading; a differing row is marked in words and by its class.
#[component]
fn Rows(
    id: &'static str,
    title: &'static str,
    rows: Vec<ComparedRow>,
    width: usize,
    only_differences: RwSignal<bool>,
) -> impl IntoView {
    let empty = rows.is_empty().then(|| {
        view! {
            <tr>
                <td class="muted" colspan=width + 1>
                    "none"
                </td>
            </tr>
        }
    });
    let body = rows
        .into_iter()
        .map(|row| {
            let differs = row.differs;
            let key = row.key.clone();
            let hidden = move || only_differences.get() && !differs;
            view! {
                <tr
                    class:differs=differs
                    data-key=key
                    data-differs=differs.to_string()
                    hidden=hidden
                >
                    <th scope="row">
                        {row.key}
                        {differs.then(|| view! { <span class="differs-mark" title="differs">" ≠"</span> })}
                    </th>
                    {row
                        .values
                        .into_iter()
                        .map(|v| view! { <td class="mono">{v.unwrap_or_else(|| "–".into())}</td> })
                        .collect_view()}
                </tr>
            }
        })
        .collect_view();
    view! {
        <tbody data-testid=format!("compare-{id}")>
            <tr class="group">
                <th colspan=width + 1>{title}</th>
            </tr>
            {empty}
            {body}
        </tbody>
    }
}

/// The button under a table of checkboxes that opens the comparison: `form` is the id the
/// checkboxes name with their `form` attribute, so the table's own controls stay outside it.
#[component]
pub fn CompareButton(form: &'static str, action: String, what: &'static str) -> impl IntoView {
    view! {
        <form id=form method="get" action=action class="compare-form">
            <button type="submit">{format!("Compare selected {what}")}</button>
            <span class="muted">{format!(" Tick two to {COMPARE_LIMIT}.")}</span>
        </form>
    }
}
