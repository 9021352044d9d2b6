//! The Models area's reads, as the user (server only): the registered models they may see,
//! one model with its versions and files, the experiments, an experiment's runs, and one run
//! with its metrics charted by step. The pages' server functions and the JSON API call these.

use super::artifacts::ArtifactPath;
use super::filter::Narrowing;
use super::wire::KeyValue;
use super::{
    registry, store, ExperimentRuns, ExperimentSummary, ModelDetail, ModelSummary, RunDetail,
    RunSummary, VersionFile, VersionFiles, VersionSummary, CHART_POINTS, EXPERIMENTS_LIMIT,
    RUNS_LIMIT, RUN_CHARTS,
};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::metrics::svg::{self, Look};
use crate::metrics::{Chart, Series};
use crate::state::AppState;

use super::LIST_LIMIT;

/// The registered models the caller may see whose name contains `search`, by name: the first
/// [`LIST_LIMIT`] (the page says to search when there are more).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    search: &str,
) -> Result<Vec<ModelSummary>, AppError> {
    let pattern = format!("%{}%", search.trim());
    let narrowing = [Narrowing {
        field: "name",
        exact: false,
        value: &pattern,
    }];
    let rows = store::registered_matching(&state.db, &caller.namespaces, &narrowing).await?;
    let mut found = Vec::new();
    for row in rows.iter().take(LIST_LIMIT) {
        found.push(summary(state, row).await?.0);
    }
    Ok(found)
}

/// Model `name` with its versions, if the caller may see its namespace.
pub async fn detail(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<ModelDetail, AppError> {
    let row = store::registered(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("model {name:?}")))?;
    caller.check(Action::View, Some(&row.namespace))?;
    let (model, versions) = summary(state, &row).await?;
    let aliases = store::aliases(&state.db, row.id).await?;
    let tags = store::registered_tags(&state.db, row.id)
        .await?
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    let versions = versions
        .into_iter()
        .map(|v| version_summary(v, &aliases))
        .collect();
    let can_manage = caller
        .check(Action::ManageModels, Some(&row.namespace))
        .is_ok();
    Ok(ModelDetail {
        description_html: super::markdown::to_safe_html(&model.description),
        model,
        can_manage,
        tags,
        versions,
    })
}

/// A version as the model's page lists it, with the `aliases` (alias → version) of its model
/// that point at it.
pub(super) fn version_summary(v: store::VersionRow, aliases: &[(String, i64)]) -> VersionSummary {
    VersionSummary {
        version: v.version,
        stage: v.stage,
        aliases: store::aliases_at(aliases, v.version),
        source: v.source,
        run_id: v.run_id,
        created_by: v.created_by,
        created: utc(v.created_ms),
    }
}

/// The files of a version in `folder`: its root when empty, else a folder below it (a `path`
/// an earlier listing gave; anything outside the version's root is refused).
pub async fn files(
    state: &AppState,
    caller: &Caller,
    name: &str,
    version: i64,
    folder: &str,
) -> Result<VersionFiles, AppError> {
    let model = store::registered(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("model {name:?}")))?;
    caller.check(Action::View, Some(&model.namespace))?;
    let v = store::version(&state.db, model.id, version)
        .await?
        .ok_or_else(|| AppError::not_found(format!("version {version} of {name:?}")))?;
    let uri = registry::artifact_uri(state, &v).await?;
    listing(state, uri, folder, "version").await
}

/// The files kept at `uri` (a version's or a run's) in `folder`: `uri`'s root when empty, else
/// a folder below it (a `path` an earlier listing gave; anything outside the root is refused,
/// as not `whose`).
async fn listing(
    state: &AppState,
    uri: String,
    folder: &str,
    whose: &str,
) -> Result<VersionFiles, AppError> {
    let Some(root) = uri.strip_prefix("mlflow-artifacts:/") else {
        return Ok(VersionFiles {
            kept_by_gantry: false,
            source: uri,
            files: Vec::new(),
        });
    };
    let listed = if folder.is_empty() { root } else { folder };
    let path = ArtifactPath::parse(listed)?;
    if !path.starts_with(root) {
        return Err(AppError::invalid(
            "folder",
            format!("is not inside this {whose}'s files"),
        ));
    }
    // Entries come relative to the `artifacts` folder they are in: what they are kept under
    // is that folder's path and theirs.
    let (before, _) = root.split_once("/artifacts").unwrap_or((root, ""));
    let base = format!("{before}/artifacts");
    let files = state
        .artifacts
        .list(&path)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let path = format!("{base}/{}", f.path);
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .trim_start_matches('/')
                .to_string();
            VersionFile {
                name,
                path,
                is_dir: f.is_dir,
                size: f.file_size,
            }
        })
        .collect();
    Ok(VersionFiles {
        kept_by_gantry: true,
        source: uri,
        files,
    })
}

/// The experiments the caller may see whose name contains `search`, by name: the first
/// [`EXPERIMENTS_LIMIT`].
pub async fn experiments(
    state: &AppState,
    caller: &Caller,
    search: &str,
) -> Result<Vec<ExperimentSummary>, AppError> {
    let pattern = format!("%{}%", search.trim());
    let rows =
        store::experiments_listed(&state.db, &caller.namespaces, &pattern, EXPERIMENTS_LIMIT)
            .await?;
    Ok(rows.into_iter().map(experiment_summary).collect())
}

pub(super) fn experiment_summary(row: store::ExperimentListed) -> ExperimentSummary {
    ExperimentSummary {
        id: row.id.to_string(),
        name: row.name,
        namespace: row.namespace,
        runs: row.runs,
        last_run: row.last_run_ms.map(utc),
    }
}

/// Experiment `id` with its newest [`RUNS_LIMIT`] runs, if the caller may see its namespace.
pub async fn experiment(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ExperimentRuns, AppError> {
    let experiment = experiment_for(state, caller, id).await?;
    let rows = store::runs(&state.db, experiment.id, 0, RUNS_LIMIT as i64).await?;
    let runs = run_summaries(state, &rows).await?;
    Ok(ExperimentRuns {
        experiment: experiment_summary(experiment),
        runs,
    })
}

/// The experiment `id` (as a URL gives it) names, once the caller may see it.
pub(super) async fn experiment_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<store::ExperimentListed, AppError> {
    let number = id
        .parse::<i64>()
        .map_err(|_| AppError::not_found(format!("experiment {id:?}")))?;
    experiment_of(state, caller, number).await
}

/// Experiment `id` (a run's), once the caller may see it.
pub(super) async fn experiment_of(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<store::ExperimentListed, AppError> {
    let row = store::experiment_listed(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("experiment \"{id}\"")))?;
    caller.check(Action::View, Some(&row.namespace))?;
    Ok(row)
}

/// The runs of `rows` as the pages list them, their latest metrics read in one statement.
pub(super) async fn run_summaries(
    state: &AppState,
    rows: &[store::RunRow],
) -> Result<Vec<RunSummary>, AppError> {
    let now_ms = crate::time::unix_now_ms();
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut metrics = store::latest_metrics_of(&state.db, &ids).await?;
    let summaries = rows.iter().map(|row| RunSummary {
        id: row.id.clone(),
        name: row.name.clone(),
        status: row.status.clone(),
        user: row.user_id.clone(),
        started: utc(row.start_ms),
        duration_secs: (row.end_ms.unwrap_or(now_ms) - row.start_ms).max(0) / 1000,
        metrics: (metrics.remove(&row.id).unwrap_or_default())
            .into_iter()
            .map(|m| (m.key, metric_text(m.value)))
            .collect(),
    });
    Ok(summaries.collect())
}

pub(super) async fn run_summary(
    state: &AppState,
    row: &store::RunRow,
) -> Result<RunSummary, AppError> {
    let mut summaries = run_summaries(state, std::slice::from_ref(row)).await?;
    summaries
        .pop()
        .ok_or_else(|| AppError::internal("reading a run", "no run read"))
}

/// Run `id` with its params, tags and every metric charted by step, if the caller may see
/// its namespace.
pub async fn run(state: &AppState, caller: &Caller, id: &str) -> Result<RunDetail, AppError> {
    let row = run_for(state, caller, id).await?;
    let experiment = experiment_of(state, caller, row.experiment_id).await?;
    let summary = run_summary(state, &row).await?;
    let params = pairs(store::run_params(&state.db, id).await?);
    let tags = pairs(store::run_tags(&state.db, id).await?)
        .into_iter()
        .filter(|(key, _)| !key.starts_with("mlflow."))
        .collect();
    let mut charts = Vec::with_capacity(summary.metrics.len());
    for (key, _) in summary.metrics.iter().take(RUN_CHARTS) {
        let points = store::metric_by_step(&state.db, id, key, CHART_POINTS).await?;
        charts.push(Chart {
            id: key.clone(),
            title: key.clone(),
            unit: String::new(),
            series: vec![Series {
                name: key.clone(),
                points,
            }],
            error: None,
        });
    }
    let svgs = charts
        .iter()
        .map(|chart| svg::render_steps(chart, Look::Inline))
        .collect();
    Ok(RunDetail {
        run: summary,
        experiment: experiment_summary(experiment),
        ended: row.end_ms.map(utc),
        job: row.job_name.clone(),
        params,
        tags,
        charts,
        svgs,
    })
}

/// The files run `id` logged in `folder` (see [`listing`]).
pub async fn run_files(
    state: &AppState,
    caller: &Caller,
    id: &str,
    folder: &str,
) -> Result<VersionFiles, AppError> {
    let row = run_for(state, caller, id).await?;
    let uri = format!(
        "mlflow-artifacts:/{}/{}/artifacts",
        row.experiment_id, row.id
    );
    listing(state, uri, folder, "run").await
}

/// Run `id`, once the caller may see it (deleted runs are not shown).
pub(super) async fn run_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<store::RunRow, AppError> {
    let row = store::run(&state.db, id)
        .await?
        .filter(|r| r.lifecycle_stage == "active")
        .ok_or_else(|| AppError::not_found(format!("run {id:?}")))?;
    caller.check(Action::View, Some(&row.namespace))?;
    Ok(row)
}

/// The run a version names (`id`, empty for none), when it is active and the caller may see
/// its namespace: a version may name a run of another namespace, which is then not shown.
pub(super) async fn visible_run(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Option<store::RunRow>, AppError> {
    if id.is_empty() {
        return Ok(None);
    }
    Ok(store::run(&state.db, id).await?.filter(|run| {
        run.lifecycle_stage == "active" && caller.check(Action::View, Some(&run.namespace)).is_ok()
    }))
}

pub(super) fn pairs(rows: Vec<KeyValue>) -> Vec<(String, String)> {
    rows.into_iter().map(|kv| (kv.key, kv.value)).collect()
}

pub(super) fn utc(ms: i64) -> String {
    crate::time::format_unix((ms / 1000).max(0) as u64)
}

/// A metric's value as the pages show it: up to six decimals without trailing zeros, and
/// MLflow's words for the values JSON has no number for.
pub fn metric_text(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

async fn summary(
    state: &AppState,
    row: &store::RegisteredRow,
) -> Result<(ModelSummary, Vec<store::VersionRow>), AppError> {
    let versions = store::versions(&state.db, row.id).await?;
    let summary = ModelSummary {
        name: row.name.clone(),
        namespace: row.namespace.clone(),
        description: row.description.clone(),
        latest_version: versions.iter().map(|v| v.version).max(),
        versions: versions.len(),
        aliases: store::aliases(&state.db, row.id).await?,
        updated: crate::time::format_unix((row.updated_ms / 1000).max(0) as u64),
    };
    Ok((summary, versions))
}

#[cfg(test)]
mod tests {
    use super::metric_text;

    #[test]
    fn metric_values_read_as_numbers_or_mlflow_words() {
        assert_eq!(metric_text(0.93), "0.93");
        assert_eq!(metric_text(2.0), "2");
        assert_eq!(metric_text(-0.0000001), "0");
        assert_eq!(metric_text(1234.5678901), "1234.56789");
        assert_eq!(metric_text(f64::NAN), "NaN");
        assert_eq!(metric_text(f64::NEG_INFINITY), "-Infinity");
    }
}
