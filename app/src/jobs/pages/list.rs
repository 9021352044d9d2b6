//! `/jobs`: every job the caller may see, live: why it waits, how far it got, what it holds.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;
use crate::jobs::{JobFilter, JobList, JobRow};
use crate::layout::StaleNotice;
use crate::live::{self, LiveBadge};

/// The jobs list, kept current by the jobs stream.
#[component]
pub fn JobsPage() -> impl IntoView {
    let namespace = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let mine = RwSignal::new(false);
    let search = RwSignal::new(String::new());
    let filter = Memo::new(move |_| JobFilter {
        namespace: namespace.get(),
        status: status.get(),
        mine: mine.get(),
        search: search.get(),
    });
    let list: RwSignal<Option<Result<JobList, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::subscribe(
        move || {
            let f = filter.get();
            format!(
                "/api/v1/jobs/stream?{}",
                crate::url::query(&[
                    ("namespace", f.namespace.as_str()),
                    ("status", f.status.as_str()),
                    ("mine", if f.mine { "true" } else { "false" }),
                    ("search", f.search.as_str()),
                ])
            )
        },
        move |message| list.set(Some(message)),
        connection,
    );
    let stale = move || list.get().and_then(Result::ok).and_then(|l| l.stale_since);
    view! {
        <Title text="Training jobs" />
        <section class="page">
            <div class="page-head">
                <h1>"Training jobs"</h1>
                <LiveBadge connection />
                <a class="button primary" href="/jobs/new">"Launch a job"</a>
            </div>
            <p class="lead">"Every job you may see, live: why it waits, how far it got, what it holds."</p>
            <StaleNotice since=Signal::derive(stale) />
            <div class="filters" role="search" aria-label="Filter jobs">
                <label>
                    "Namespace"
                    <input aria-label="Namespace" placeholder="all" on:change=move |ev| namespace.set(event_target_value(&ev)) />
                </label>
                <label>
                    "Status"
                    <select aria-label="Status" on:change=move |ev| status.set(event_target_value(&ev))>
                        <option value="">"Any"</option>
                        {["Pending", "Running", "Succeeded", "Failed", "Suspended"]
                            .into_iter()
                            .map(|s| view! { <option value=s>{s}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label class="check">
                    <input type="checkbox" aria-label="Only mine" on:change=move |ev| mine.set(event_target_checked(&ev)) />
                    "Only mine"
                </label>
                <label>
                    "Search"
                    <input type="search" aria-label="Search jobs" on:change=move |ev| search.set(event_target_value(&ev)) />
                </label>
            </div>
            {move || match list.get().map(|l| l.map(|l| l.rows)) {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => {
                    view! { <p class="muted">"No jobs match. Launch one to get started."</p> }.into_any()
                }
                Some(Ok(rows)) => view! { <JobTable rows /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn JobTable(rows: Vec<JobRow>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="jobs-table">
                <thead>
                    <tr>
                        <th>"Job"</th>
                        <th>"Kind"</th>
                        <th>"Namespace"</th>
                        <th>"Status"</th>
                        <th>"Progress"</th>
                        <th>"GPUs"</th>
                        <th>"Duration"</th>
                        <th>"GPU efficiency"</th>
                        <th>"Key metric"</th>
                        <th>"Launched by"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let href = format!("/jobs/{}/{}", r.namespace, r.name);
                            let gpus = crate::jobs::gpus_text(
                                r.gpus_per_pod,
                                r.gpu_resource.as_deref(),
                                r.gpu_model.as_deref(),
                            );
                            let phase = r.phase.as_str();
                            let status = match &r.reason {
                                Some(reason) => format!("{phase}: {reason}"),
                                None if r.in_cluster => phase.to_string(),
                                None => format!("{phase} (gone from the cluster)"),
                            };
                            let key = r.name.clone();
                            view! {
                                <tr data-job=key data-phase=phase>
                                    <td>
                                        {if r.kind == "Job" {
                                            view! { <a href=href>{r.name.clone()}</a> }.into_any()
                                        } else {
                                            r.name.clone().into_any()
                                        }}
                                    </td>
                                    <td>{r.kind.clone()}</td>
                                    <td>{r.namespace.clone()}</td>
                                    <td class="status" data-testid="job-status">{status}</td>
                                    <td>
                                        {(r.completions > 1)
                                            .then(|| {
                                                view! {
                                                    <progress max=r.completions value=r.succeeded aria-label="Completions"></progress>
                                                    {format!(" {}/{}", r.succeeded, r.completions)}
                                                }
                                            })}
                                    </td>
                                    <td>{gpus}</td>
                                    <td>{crate::time::duration_text(r.duration_secs)}</td>
                                    <td class="num" data-testid="gpu-efficiency">{efficiency_text(&r)}</td>
                                    <td class="num" data-testid="key-metric">
                                        {r
                                            .key_metric
                                            .as_ref()
                                            .map(|(key, value)| format!("{key} {value}"))
                                            .unwrap_or_else(|| "–".into())}
                                    </td>
                                    <td>{r.launched_by.clone().unwrap_or_else(|| "elsewhere".into())}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// A job's GPU efficiency as the list shows it: its mean utilisation and GPU-hours once
/// measured, "–" before (or for a job without GPUs).
pub fn efficiency_text(row: &JobRow) -> String {
    match row.gpu_use {
        Some(u) => format!("{:.0} % of {:.2} GPU-h", u.mean_percent, u.gpu_hours),
        None => "–".into(),
    }
}
