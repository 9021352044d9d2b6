//! `/jobs/{namespace}/{name}`: one job: status, pods, events, actions (cancel, suspend,
//! clone, re-run) and its logs live; for a job gone from the cluster, what the history kept.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::list::efficiency_text;
use crate::error::AppError;
use crate::jobs::{logs, CancelJob, JobDetail, JobPhase, RerunJob, SuspendJob};
use crate::live::{self, LiveBadge};

/// A job's page: status, pods, events, and its logs live.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let namespace = Memo::new(move |_| params.read().get("namespace").unwrap_or_default());
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let detail: RwSignal<Option<Result<JobDetail, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    // The job's own stream pushes its detail again whenever it changes.
    live::subscribe(
        move || {
            format!(
                "/api/v1/jobs/{}/{}/stream",
                crate::url::encode_component(&namespace.get()),
                crate::url::encode_component(&name.get())
            )
        },
        move |message| detail.set(Some(message)),
        connection,
    );
    let cancel = ServerAction::<CancelJob>::new();
    let suspend = ServerAction::<SuspendJob>::new();
    let rerun = ServerAction::<RerunJob>::new();
    let asking = RwSignal::new(false);
    let suspended = move || {
        detail
            .get()
            .and_then(Result::ok)
            .is_some_and(|d| d.row.phase == JobPhase::Suspended)
    };
    // Cancel and Suspend only for a job still in the cluster that has not finished.
    let unfinished = move || {
        detail.get().and_then(Result::ok).is_some_and(|d| {
            d.row.in_cluster && !matches!(d.row.phase, JobPhase::Succeeded | JobPhase::Failed)
        })
    };
    // Memos: the stream's every update would otherwise ask for the run's charts again.
    let run = Memo::new(move |_| detail.get().and_then(Result::ok).and_then(|d| d.run_id));
    let running = Memo::new(move |_| unfinished());
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(new_name)) = rerun.value().get() {
            navigate(
                &format!("/jobs/{}/{new_name}", namespace.get_untracked()),
                Default::default(),
            );
        }
    });
    let action_error = move || {
        [
            cancel.value().get(),
            suspend.value().get(),
            rerun.value().get().map(|r| r.map(|_| ())),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(|e| e.to_string())
    };
    view! {
        <Title text=move || name.get() />
        <section class="page">
            <p><a href="/jobs">"← Training jobs"</a></p>
            <div class="page-head">
                <h1>{move || name.get()}</h1>
                <LiveBadge connection />
            </div>
            // Under the heading, above everything whose height changes as the job does, and
            // with the actions every job has first: nothing moves under the pointer when the
            // detail arrives or Cancel and Suspend come and go.
            <div class="actions">
                <a class="button" href=move || format!("/jobs/new?from={}/{}", namespace.get(), name.get())>"Clone"</a>
                <button type="button" on:click=move |_| {
                    rerun.dispatch(RerunJob { namespace: namespace.get(), name: name.get() });
                }>"Re-run"</button>
                <Show when=unfinished>
                    <button type="button" on:click=move |_| {
                        suspend.dispatch(SuspendJob { namespace: namespace.get(), name: name.get(), suspend: !suspended() });
                    }>{move || if suspended() { "Resume" } else { "Suspend" }}</button>
                    <Show
                        when=move || asking.get()
                        fallback=move || view! { <button type="button" on:click=move |_| asking.set(true)>"Cancel job"</button> }
                    >
                        <span class="confirm">
                            {move || format!("Cancel {}? Its pods are stopped.", name.get())}
                            <button type="button" class="primary" on:click=move |_| {
                                cancel.dispatch(CancelJob { namespace: namespace.get(), name: name.get() });
                                asking.set(false);
                            }>"Confirm"</button>
                            <button type="button" on:click=move |_| asking.set(false)>"Keep it"</button>
                        </span>
                    </Show>
                </Show>
            </div>
            <p class="form-error" role="alert">{action_error}</p>
            {move || match detail.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(detail)) => view! { <JobSummary detail /> }.into_any(),
            }}
            // Outside the live part: the stream's updates do not redraw (or refetch) charts.
            <crate::metrics::pages::alerts::AlertList about=Signal::derive(move || {
                crate::metrics::AlertsAbout::Job { namespace: namespace.get(), name: name.get() }
            }) />
            <crate::metrics::pages::charts::ChartsSection
                testid="job-metrics"
                initial="run"
                run=true
                off="Prometheus not configured: set GANTRY_PROMETHEUS_URL to chart this job's GPUs."
                fetch=move |p| crate::metrics::get_job_charts(namespace.get(), name.get(), p.range, p.from, p.to)
            />
            <crate::models::pages::runs::JobRun run=Signal::from(run) live=Signal::from(running) />
            <JobLogs namespace name detail=Signal::derive(move || detail.get().and_then(Result::ok)) />
        </section>
    }
}

#[component]
fn JobSummary(detail: JobDetail) -> impl IntoView {
    let row = detail.row;
    let status = match &row.reason {
        Some(reason) => format!("{}: {reason}", row.phase.as_str()),
        None => row.phase.as_str().to_string(),
    };
    let gpu_use = match (row.gpu_use, row.gpus_per_pod) {
        (Some(_), _) => format!("{} mean utilisation", efficiency_text(&row)),
        (None, 0) => "no GPUs".to_string(),
        (None, _) => {
            "measured from Prometheus after it ends, while Prometheus has its series".into()
        }
    };
    view! {
        <dl class="facts" data-testid="job-facts">
            <dt>"Status"</dt><dd data-testid="job-status">{status}</dd>
            <dt>"Namespace"</dt><dd>{row.namespace.clone()}</dd>
            <dt>"Image"</dt><dd><code>{detail.image}</code></dd>
            <dt>"Command"</dt><dd><code>{detail.command}</code></dd>
            <dt>"GPUs per pod"</dt><dd>{format!("{} {}", row.gpus_per_pod, row.gpu_model.clone().unwrap_or_default())}</dd>
            <dt>"Completions"</dt><dd>{format!("{} of {} ({} failed)", row.succeeded, row.completions, row.failed)}</dd>
            <dt>"Duration"</dt><dd>{crate::time::duration_text(row.duration_secs)}</dd>
            <dt>"GPU efficiency"</dt><dd data-testid="job-gpu-use">{gpu_use}</dd>
            <dt>"Launched by"</dt><dd>{row.launched_by.clone().unwrap_or_else(|| "elsewhere".into())}</dd>
            <dt>"Conditions"</dt><dd>{if detail.conditions.is_empty() { "none yet".to_string() } else { detail.conditions.join(", ") }}</dd>
        </dl>
        <h2>"Pods"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="job-pods">
                <thead><tr><th>"Pod"</th><th>"Phase"</th><th>"Node"</th><th>"Restarts"</th></tr></thead>
                <tbody>
                    {detail.pods.into_iter().map(|p| view! {
                        <tr>
                            <td>{p.name}</td>
                            <td>{p.phase}</td>
                            <td>{p.node.unwrap_or_else(|| "not scheduled".into())}</td>
                            <td>{p.restarts}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {(!detail.captured.is_empty()).then(|| view! {
            <h2>"Last log lines, kept when the job finished"</h2>
            {detail.captured.into_iter().map(|c| view! {
                <h3>{c.pod}</h3>
                <pre class="log" data-testid="captured-log">{c.lines}</pre>
            }).collect_view()}
        })}
        <h2>"Events"</h2>
        <ul class="events" data-testid="job-events">
            {detail.events.into_iter().map(|e| view! {
                <li class=format!("event {}", e.kind.to_lowercase())>
                    <strong>{e.reason}</strong>" "{e.message}
                    <span class="muted">{format!(" · {} · {}", e.object, e.last_seen)}</span>
                </li>
            }).collect_view()}
        </ul>
    }
}

/// The log viewer: one pod or all, follow with a tail, pause, search, download; at most
/// [`logs::KEPT_LINES`] lines held.
#[component]
fn JobLogs(
    namespace: Memo<String>,
    name: Memo<String>,
    detail: Signal<Option<JobDetail>>,
) -> impl IntoView {
    let pod = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let paused = RwSignal::new(false);
    let lines: RwSignal<std::collections::VecDeque<logs::LogLine>> =
        RwSignal::new(Default::default());
    let connection = RwSignal::new(live::Connection::Connecting);
    // Lines wait here for the next animation frame and are drawn together: the tail arrives
    // as up to 500 messages at once, and drawing after each rebuilt and laid out the whole
    // log each time (seconds of a busy page before anything else on it updated). Bounded
    // like the log itself, as frames stop while the tab is hidden.
    let arrived = StoredValue::new(std::collections::VecDeque::<logs::LogLine>::new());
    let draw = move || {
        let batch = arrived.try_update_value(std::mem::take).unwrap_or_default();
        lines.try_update(|kept| keep_last(kept, batch));
    };
    live::subscribe(
        move || {
            arrived.update_value(std::collections::VecDeque::clear);
            lines.set(Default::default());
            format!(
                "/api/v1/jobs/{}/{}/logs?{}",
                namespace.get(),
                name.get(),
                crate::url::query(&[("pod", &pod.get()), ("tail", "500")])
            )
        },
        move |message: Result<logs::LogLine, AppError>| {
            let Ok(line) = message else { return };
            let first = arrived.try_update_value(|waiting| {
                keep_last(waiting, [line]);
                waiting.len() == 1
            });
            if first == Some(true) {
                request_animation_frame(draw);
            }
        },
        connection,
    );
    let shown = move || {
        let needle = search.get().to_lowercase();
        let all = pod.get().is_empty();
        lines.with(|kept| {
            kept.iter()
                .filter(|l| needle.is_empty() || l.line.to_lowercase().contains(&needle))
                .map(|l| {
                    if all {
                        format!("[{}] {}", l.pod, l.line)
                    } else {
                        l.line.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    let view_ref = NodeRef::<leptos::html::Pre>::new();
    Effect::new(move |_| {
        lines.track();
        if !paused.get_untracked() {
            if let Some(pre) = view_ref.get() {
                pre.set_scroll_top(pre.scroll_height());
            }
        }
    });
    let download = move || {
        format!(
            "/api/v1/jobs/{}/{}/logs.txt?{}",
            namespace.get(),
            name.get(),
            crate::url::query(&[("pod", &pod.get())])
        )
    };
    view! {
        <h2>"Logs " <LiveBadge connection /></h2>
        <div class="filters" role="group" aria-label="Logs">
            <label>
                "Pod"
                <select aria-label="Pod" on:change=move |ev| pod.set(event_target_value(&ev))>
                    <option value="">"All pods, interleaved"</option>
                    {move || detail.get().map(|d| d.pods).unwrap_or_default().into_iter()
                        .map(|p| view! { <option value=p.name.clone()>{p.name.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Search"
                <input type="search" aria-label="Search the log" on:input=move |ev| search.set(event_target_value(&ev)) />
            </label>
            <label class="check">
                <input type="checkbox" aria-label="Pause scrolling" on:change=move |ev| paused.set(event_target_checked(&ev)) />
                "Pause scrolling"
            </label>
            <a class="button" href=download download="">"Download"</a>
        </div>
        <pre class="log" data-testid="job-log" node_ref=view_ref>{shown}</pre>
    }
}

/// Appends `more` to `kept`, dropping the oldest lines past [`logs::KEPT_LINES`].
fn keep_last(
    kept: &mut std::collections::VecDeque<logs::LogLine>,
    more: impl IntoIterator<Item = logs::LogLine>,
) {
    kept.extend(more);
    let over = kept.len().saturating_sub(logs::KEPT_LINES);
    kept.drain(..over);
}
