//! `/experiments`: the experiments the user may see; `/experiments/{id}`: an experiment's
//! runs with their latest metrics; `/runs/{id}`: one run's params, tags, metrics charted by
//! step, and files. What MLflow code logs appears here.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::compare::CompareButton;
use super::registry::FileList;
use super::{pairs_table, ModelsTabs};
use crate::metrics::Chart;
use crate::models::{
    get_experiment, get_run, list_experiments, list_run_files, ExperimentRuns, ExperimentSummary,
    RunDetail, RunSummary, EXPERIMENTS_LIMIT, RUNS_LIMIT, RUN_CHARTS,
};

/// The experiments the user may see.
#[component]
pub fn ExperimentsPage() -> impl IntoView {
    let search = RwSignal::new(String::new());
    // Fetched after hydration, as the registry: runs start between render and hydration.
    let experiments = LocalResource::new(move || list_experiments(search.get()));
    view! {
        <Title text="Experiments" />
        <section class="page" data-testid="experiments">
            <h1>"Experiments"</h1>
            <ModelsTabs current="/experiments" />
            <p class="lead">
                "What your training code logged with MLflow's client: each experiment's runs, \
                 their parameters and metrics."
            </p>
            <div class="filters">
                <label>
                    "Search"
                    <input
                        type="search"
                        placeholder="training"
                        prop:value=move || search.get()
                        on:change=move |ev| search.set(event_target_value(&ev))
                    />
                </label>
            </div>
            {move || match experiments.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => {
                    view! {
                        <p class="empty" data-testid="experiments-empty">
                            "No experiments in your namespaces yet. Set MLFLOW_TRACKING_URI to \
                             this server and MLFLOW_TRACKING_TOKEN to an API token, then call \
                             mlflow.set_experiment and mlflow.start_run."
                        </p>
                    }
                        .into_any()
                }
                Some(Ok(rows)) => {
                    let more = (rows.len() == EXPERIMENTS_LIMIT)
                        .then(|| {
                            view! {
                                <p class="muted">
                                    {format!("The first {EXPERIMENTS_LIMIT} by name; search to find others.")}
                                </p>
                            }
                        });
                    view! {
                        <ExperimentsTable rows />
                        {more}
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[component]
fn ExperimentsTable(rows: Vec<ExperimentSummary>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="experiments-table">
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"Namespace"</th>
                        <th>"Runs"</th>
                        <th>"Newest run (UTC)"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|e| {
                            view! {
                                <tr data-experiment=e.name.clone()>
                                    <td>
                                        <a href=format!("/experiments/{}", e.id)>{e.name.clone()}</a>
                                    </td>
                                    <td>{e.namespace}</td>
                                    <td>{e.runs}</td>
                                    <td>{e.last_run.unwrap_or_else(|| "–".into())}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// One experiment's newest runs, each with its latest metrics.
#[component]
pub fn ExperimentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let runs = LocalResource::new(move || get_experiment(id()));
    view! {
        <Title text="Experiment" />
        <section class="page">
            <p>
                <a href="/experiments">"← Experiments"</a>
            </p>
            {move || match runs.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(runs)) => view! { <RunsView runs /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn RunsView(runs: ExperimentRuns) -> impl IntoView {
    let ExperimentRuns { experiment, runs } = runs;
    // One column per metric key any listed run has, in key order.
    let mut keys: Vec<String> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|(k, _)| k.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let more = (runs.len() == RUNS_LIMIT)
        .then(|| view! { <p class="muted">{format!("The newest {RUNS_LIMIT} runs.")}</p> });
    let runs_count = runs.len();
    let empty = runs
        .is_empty()
        .then(|| view! { <p class="empty">"No runs in this experiment yet."</p> });
    view! {
        <h1>{experiment.name.clone()}</h1>
        <dl class="facts">
            <dt>"Namespace"</dt>
            <dd>{experiment.namespace}</dd>
            <dt>"Runs"</dt>
            <dd>{experiment.runs}</dd>
        </dl>
        {empty}
        <div class="table-wrap">
            <table class="table" data-testid="runs-table">
                <thead>
                    <tr>
                        <th>"Compare"</th>
                        <th>"Run"</th>
                        <th>"Status"</th>
                        <th>"User"</th>
                        <th>"Started (UTC)"</th>
                        <th>"Duration"</th>
                        {keys.iter().map(|k| view! { <th>{k.clone()}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {runs.into_iter().map(|run| view! { <RunRow run keys=keys.clone() /> }).collect_view()}
                </tbody>
            </table>
        </div>
        {(runs_count >= 2)
            .then(|| {
                view! { <CompareButton form="compare-runs" action="/compare/runs".into() what="runs" /> }
            })}
        {more}
    }
}

#[component]
fn RunRow(run: RunSummary, keys: Vec<String>) -> impl IntoView {
    let value = |key: &str| {
        run.metrics
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "–".into())
    };
    let cells = keys
        .iter()
        .map(|k| view! { <td class="num">{value(k)}</td> })
        .collect_view();
    view! {
        <tr data-run=run.id.clone()>
            <td>
                <input
                    type="checkbox"
                    form="compare-runs"
                    name="ids"
                    value=run.id.clone()
                    aria-label=format!("Compare {}", run.name)
                />
            </td>
            <td>
                <a href=format!("/runs/{}", run.id)>{run.name.clone()}</a>
            </td>
            <td>{run.status.clone()}</td>
            <td>{run.user.clone()}</td>
            <td>{run.started.clone()}</td>
            <td>{crate::time::duration_text(Some(run.duration_secs))}</td>
            {cells}
        </tr>
    }
}

/// One run: what it logged, its metrics charted by step, its files.
#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let run = LocalResource::new(move || get_run(id()));
    view! {
        <Title text="Run" />
        <section class="page">
            {move || match run.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(detail)) => view! { <RunView detail /> }.into_any(),
            }}
        </section>
    }
}

/// A run's metrics, one chart each by step, captioned with the latest value.
#[component]
fn RunCharts(
    latest: Vec<(String, String)>,
    charts: Vec<Chart>,
    svgs: Vec<String>,
) -> impl IntoView {
    let drawn = charts
        .into_iter()
        .zip(svgs)
        .map(|(chart, svg)| {
            let key = chart.id.clone();
            let shown = chart.series.first().map_or(0, |s| s.points.len());
            let now = latest
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            view! {
                <figure class="chart-card" data-testid=format!("run-chart-{key}")>
                    <figcaption>{format!("{key}: {now}")}</figcaption>
                    <div class="chart" role="img" aria-label=format!("{key} by step") inner_html=svg></div>
                    <p class="muted">{format!("{shown} points by step")}</p>
                </figure>
            }
        })
        .collect_view();
    let none = latest
        .is_empty()
        .then(|| view! { <p class="muted">"No metrics logged yet."</p> });
    let more = (latest.len() > RUN_CHARTS).then(|| {
        view! {
            <p class="muted">
                {format!(
                    "The first {RUN_CHARTS} of {} metrics by name are charted; every latest value is in the experiment's runs table.",
                    latest.len(),
                )}
            </p>
        }
    });
    view! {
        {none}
        {drawn}
        {more}
    }
}

/// How often a running job's page asks for its run's metrics again.
const RUN_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// A job's MLflow run on the job's page (jobs launched with tracking on): its metrics
/// charted by step, asked for again every [`RUN_REFRESH`] while `live` (the job runs).
#[component]
pub fn JobRun(run: Signal<Option<String>>, live: Signal<bool>) -> impl IntoView {
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        if !live.get() {
            return;
        }
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), RUN_REFRESH)
        {
            on_cleanup(move || handle.clear());
        }
    });
    let detail = LocalResource::new(move || {
        tick.track();
        let id = run.get();
        async move {
            match id {
                Some(id) => Some(get_run(id).await),
                None => None,
            }
        }
    });
    move || {
        run.get().map(|id| {
            view! {
                <section data-testid="job-run">
                    <h2>"Training metrics"</h2>
                    <p>
                        "Logged by the job to its MLflow run "
                        <a href=format!("/runs/{id}") class="mono">{id.clone()}</a>
                        "."
                    </p>
                    {move || match detail.get() {
                        Some(Some(Err(error))) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                        Some(Some(Ok(d))) => {
                            view! { <RunCharts latest=d.run.metrics charts=d.charts svgs=d.svgs /> }.into_any()
                        }
                        _ => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    }}
                </section>
            }
        })
    }
}

#[component]
fn RunView(detail: RunDetail) -> impl IntoView {
    let RunDetail {
        run,
        experiment,
        ended,
        job,
        params,
        tags,
        charts,
        svgs,
    } = detail;
    let latest = run.metrics.clone();
    let id = run.id.clone();
    view! {
        <p>
            <a href=format!("/experiments/{}", experiment.id)>
                {format!("← {}", experiment.name)}
            </a>
        </p>
        <h1>{run.name}</h1>
        <dl class="facts" data-testid="run-facts">
            <dt>"Run id"</dt>
            <dd class="mono">{run.id.clone()}</dd>
            <dt>"Status"</dt>
            <dd>{run.status}</dd>
            <dt>"Namespace"</dt>
            <dd>{experiment.namespace.clone()}</dd>
            <dt>"Job"</dt>
            <dd data-testid="run-job">
                {match job {
                    Some(job) => {
                        view! {
                            <a href=format!(
                                "/jobs/{}/{}",
                                experiment.namespace,
                                crate::url::encode_component(&job),
                            )>{job.clone()}</a>
                        }
                            .into_any()
                    }
                    None => "not launched by Gantry".into_any(),
                }}
            </dd>
            <dt>"User"</dt>
            <dd>{run.user}</dd>
            <dt>"Started (UTC)"</dt>
            <dd>{run.started}</dd>
            <dt>"Ended (UTC)"</dt>
            <dd>{ended.unwrap_or_else(|| "–".into())}</dd>
            <dt>"Duration"</dt>
            <dd>{crate::time::duration_text(Some(run.duration_secs))}</dd>
        </dl>
        <h2>"Metrics"</h2>
        <RunCharts latest charts svgs />
        <h2>"Parameters"</h2>
        {pairs_table(params, "params", "params")}
        <h2>"Tags"</h2>
        {pairs_table(tags, "tags", "tags")}
        <RunFiles id />
    }
}

/// The run's files: open folders, download files.
#[component]
fn RunFiles(id: String) -> impl IntoView {
    let folder = RwSignal::new(String::new());
    let listing = LocalResource::new(move || list_run_files(id.clone(), folder.get()));
    view! {
        <section class="files" aria-label="Files" data-testid="run-files">
            <h2>"Files"</h2>
            {move || {
                (!folder.get().is_empty())
                    .then(|| {
                        view! {
                            <button type="button" on:click=move |_| folder.set(String::new())>
                                "↑ All files"
                            </button>
                        }
                    })
            }}
            {move || match listing.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(files)) => view! { <FileList files folder /> }.into_any(),
            }}
        </section>
    }
}
