//! Models: the registry of trained models and the experiment tracking behind it, served to
//! unchanged MLflow code (`../shared/notes/mlflow.md` has the client's contract) and shown
//! in the Models area.
//!
//! `wire` (MLflow's JSON and error codes), `filter` (the search filters' grammar, pure),
//! `markdown` (descriptions as safe HTML), `compare` (runs and versions side by side),
//! `lineage` (a version's run, Job and parent), `optimise` (a job that converts a version),
//! `store` (the tables), `artifacts` (files under `mlflow-artifacts:/`, streamed), `tracking`
//! (experiments, runs, logged models), `registry` (registered models, versions, aliases),
//! `request` (what their handlers share), `server` (the Models pages' reads, as the user),
//! `api` (the MLflow routes and Gantry's JSON API), `pages`. Every experiment and registered model belongs to a
//! namespace, with the same access rules as jobs.

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod artifacts;
#[cfg(feature = "ssr")]
pub mod compare;
#[cfg(feature = "ssr")]
pub mod filter;
#[cfg(feature = "ssr")]
pub mod lineage;
#[cfg(feature = "ssr")]
pub mod markdown;
#[cfg(feature = "ssr")]
pub mod optimise;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod registry;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod tracking;
#[cfg(feature = "ssr")]
pub mod wire;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::rules::Action;
use crate::error::AppError;

/// MLflow's stages of a model version, as they are stored and shown.
pub const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

/// The most models the Models list shows at once; a search narrows it.
pub const LIST_LIMIT: usize = 200;

/// A registered model as the Models list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub name: String,
    pub namespace: String,
    pub description: String,
    pub latest_version: Option<i64>,
    pub versions: usize,
    /// `alias → version`, by alias.
    pub aliases: Vec<(String, i64)>,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub updated: String,
}

/// One version of a model, as its page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: i64,
    pub stage: String,
    pub aliases: Vec<String>,
    pub source: String,
    pub run_id: String,
    pub created_by: String,
    pub created: String,
}

/// A model's page: the model, its tags and its versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDetail {
    pub model: ModelSummary,
    /// `model.description` (Markdown) rendered and sanitised: safe to set as inner HTML.
    pub description_html: String,
    /// Whether the caller may change it (alias, stage, delete a version).
    pub can_manage: bool,
    pub tags: Vec<(String, String)>,
    pub versions: Vec<VersionSummary>,
}

/// One entry of a version's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionFile {
    /// Relative to the version's root, as the page shows it: `MLmodel`, `data/weights.bin`.
    pub name: String,
    /// Where it is kept (`<experiment>/…`): what a download or a deeper listing asks for.
    pub path: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

/// A version's files under one folder, or where they are when Gantry does not keep them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionFiles {
    /// False for a source outside Gantry (`s3://…`): `files` is empty, `source` says where.
    pub kept_by_gantry: bool,
    pub source: String,
    pub files: Vec<VersionFile>,
}

/// The most experiments the Experiments list shows, and the most runs an experiment's page
/// shows (newest first); a search narrows the first.
pub const EXPERIMENTS_LIMIT: usize = 200;
pub const RUNS_LIMIT: usize = 200;

/// The most points a run's chart draws of one metric: more are averaged by step on the
/// server (see `store::metric_by_step`).
pub const CHART_POINTS: i64 = 600;

/// The most metrics a run's page charts (the first by key; the facts list every latest
/// value): a run logging thousands of keys would otherwise draw thousands of charts.
pub const RUN_CHARTS: usize = 50;

/// An experiment as the Experiments list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentSummary {
    /// MLflow's experiment id.
    pub id: String,
    pub name: String,
    pub namespace: String,
    /// Active runs.
    pub runs: i64,
    /// When the newest run started, UTC; none before the first run.
    pub last_run: Option<String>,
}

/// A run as its experiment's page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub name: String,
    /// MLflow's: `RUNNING`, `FINISHED`, `FAILED`, `KILLED`, `SCHEDULED`.
    pub status: String,
    pub user: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub started: String,
    /// Until it ended, or until now while it runs.
    pub duration_secs: i64,
    /// Each metric's latest value (highest step), by key, as text (`NaN` and `Infinity`
    /// included).
    pub metrics: Vec<(String, String)>,
}

/// An experiment's page: the experiment and its newest runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentRuns {
    pub experiment: ExperimentSummary,
    pub runs: Vec<RunSummary>,
}

/// A run's page: what it logged, each metric charted by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunSummary,
    pub experiment: ExperimentSummary,
    pub ended: Option<String>,
    /// The Job that logged it (in the experiment's namespace), when Gantry launched it with
    /// tracking on.
    pub job: Option<String>,
    pub params: Vec<(String, String)>,
    /// The run's tags but MLflow's own (`mlflow.…`), which the page shows as fields.
    pub tags: Vec<(String, String)>,
    /// One chart per metric key, by key (the first [`RUN_CHARTS`]): its one series is
    /// (step, value), at most [`CHART_POINTS`] points.
    pub charts: Vec<crate::metrics::Chart>,
    /// `charts` drawn, in order (`currentColor` ink).
    pub svgs: Vec<String>,
}

/// A version's page: the version, and its lineage, the run that logged it and the Job that
/// ran that, and the version it was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionDetail {
    pub model: String,
    pub namespace: String,
    pub version: VersionSummary,
    pub description_html: String,
    pub tags: Vec<(String, String)>,
    /// The run that logged it, when it names one the caller may see.
    pub run: Option<LineageRun>,
    /// The Job that ran the run, when Gantry launched it; an error (not allowed to list jobs
    /// there, the cluster unreachable) is shown in its place.
    pub job: Option<Result<crate::jobs::JobLineage, AppError>>,
    /// `(model, version)` this one was made from (its `gantry.parent` tag,
    /// `models:/<name>/<version>`), as an optimisation job registers it.
    pub parent: Option<(String, i64)>,
    /// Whether the caller may launch an optimisation of it (data scientists and ops admins
    /// of its namespace).
    pub can_manage: bool,
}

/// An optimisation job to launch: `version` of `model` converted to TensorFlow Lite with
/// `quantise` (`int8`, `float16`, `none`) by `image`, registered as a version of `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Optimisation {
    pub model: String,
    pub version: i64,
    pub target: String,
    pub image: String,
    pub quantise: String,
}

/// The quantisations the optimisation job's script knows (`optimise.py`).
pub const QUANTISATIONS: [&str; 3] = ["int8", "float16", "none"];

/// The image an optimisation job runs unless the user names another: TensorFlow's own; it
/// must also have `mlflow-skinny` (the README says so).
pub const OPTIMISE_IMAGE: &str = "tensorflow/tensorflow:2.17.0";

/// The run in a version's lineage: what it logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageRun {
    pub run: RunSummary,
    pub experiment: ExperimentSummary,
    pub params: Vec<(String, String)>,
}

/// The run tag that names the metric the jobs list shows for a job launched with tracking
/// (`mlflow.set_tag("gantry.key_metric", "val_loss")`); without it, [`KEY_METRIC`].
pub const KEY_METRIC_TAG: &str = "gantry.key_metric";
pub const KEY_METRIC: &str = "loss";

/// The version tag that names the version a version was made from: `models:/<name>/<n>`.
pub const PARENT_TAG: &str = "gantry.parent";

/// The most runs, or versions, one comparison puts side by side.
pub const COMPARE_LIMIT: usize = 8;

/// A comparison's column: one run, or one version (with its run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparedColumn {
    /// The run's name, or `version 3`.
    pub label: String,
    /// Where the label links: the run's page (empty for a version without a run).
    pub href: String,
}

/// One row of a comparison: a fact, param or metric, with each column's value in column
/// order (`None`: that column has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparedRow {
    pub key: String,
    pub values: Vec<Option<String>>,
    /// The columns do not all have the same value (a missing one counts as different).
    pub differs: bool,
}

/// Runs or versions side by side: their facts, then every param and every latest metric
/// any of them has, by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub columns: Vec<ComparedColumn>,
    pub facts: Vec<ComparedRow>,
    pub params: Vec<ComparedRow>,
    pub metrics: Vec<ComparedRow>,
}

/// The registered models the caller may see whose name contains `search`, by name.
#[server(endpoint = "models/list")]
pub async fn list_models(search: String) -> Result<Vec<ModelSummary>, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::list(&state, &caller, &search).await
}

/// Model `name` with its versions, if the caller may see its namespace.
#[server(endpoint = "models/detail")]
pub async fn get_model(name: String) -> Result<ModelDetail, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::detail(&state, &caller, &name).await
}

/// Version `version` of model `name` with its lineage, if the caller may see the model.
#[server(endpoint = "models/version")]
pub async fn get_version(name: String, version: i64) -> Result<VersionDetail, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    lineage::version(&state, &caller, &name, version).await
}

/// The files of `version` of model `name` in `folder` (empty: its root; else a `path` from an
/// earlier answer), if the caller may see the model.
#[server(endpoint = "models/files")]
pub async fn list_version_files(
    name: String,
    version: i64,
    folder: String,
) -> Result<VersionFiles, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::files(&state, &caller, &name, version, &folder).await
}

/// The experiments the caller may see whose name contains `search`, by name.
#[server(endpoint = "models/experiments")]
pub async fn list_experiments(search: String) -> Result<Vec<ExperimentSummary>, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::experiments(&state, &caller, &search).await
}

/// Experiment `id` and its newest runs, if the caller may see its namespace.
#[server(endpoint = "models/experiment")]
pub async fn get_experiment(id: String) -> Result<ExperimentRuns, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::experiment(&state, &caller, &id).await
}

/// Run `id` with its params, tags and metric charts, if the caller may see its namespace.
#[server(endpoint = "models/run")]
pub async fn get_run(id: String) -> Result<RunDetail, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::run(&state, &caller, &id).await
}

/// The files run `id` logged, in `folder` (empty: its root; else a `path` from an earlier
/// answer).
#[server(endpoint = "models/run-files")]
pub async fn list_run_files(id: String, folder: String) -> Result<VersionFiles, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::run_files(&state, &caller, &id, &folder).await
}

/// Runs `ids` side by side (two to [`COMPARE_LIMIT`]), if the caller may see every one.
#[server(endpoint = "models/compare-runs")]
pub async fn compare_runs(ids: Vec<String>) -> Result<Comparison, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    compare::runs(&state, &caller, &ids).await
}

/// `versions` of model `name` side by side (two to [`COMPARE_LIMIT`]), each with its run's
/// params and metrics, if the caller may see the model.
#[server(endpoint = "models/compare-versions")]
pub async fn compare_versions(name: String, versions: Vec<i64>) -> Result<Comparison, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    compare::versions(&state, &caller, &name, &versions).await
}

/// Launches the optimisation job `optimisation` describes, as the caller; the Job's
/// namespace and name.
#[server(endpoint = "models/optimise")]
pub async fn optimise_version(optimisation: Optimisation) -> Result<(String, String), AppError> {
    let (state, caller) = crate::state::caller(Action::ManageModels, None)?;
    crate::state::to_completion(
        async move { optimise::launch(&state, &caller, &optimisation).await },
    )
    .await
}

/// Points `alias` at `version`, as the caller (data scientists and ops admins, in the
/// model's namespace); audited.
#[server(endpoint = "models/alias")]
pub async fn set_alias(name: String, alias: String, version: i64) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(Action::ManageModels, None)?;
    let version = version.to_string();
    crate::state::to_completion(async move {
        registry::point_alias(&state, &caller, &name, &alias, &version).await
    })
    .await
}

/// Moves `version` to `stage`, archiving the model's other versions there if asked; audited.
#[server(endpoint = "models/stage")]
pub async fn set_stage(
    name: String,
    version: i64,
    stage: String,
    archive_others: bool,
) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(Action::ManageModels, None)?;
    let version = version.to_string();
    crate::state::to_completion(async move {
        registry::move_stage(&state, &caller, &name, &version, &stage, archive_others).await
    })
    .await
}

/// Deletes `version` (its tags and the aliases pointing at it go with it); audited.
#[server(endpoint = "models/delete-version")]
pub async fn delete_version(name: String, version: i64) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(Action::ManageModels, None)?;
    let version = version.to_string();
    crate::state::to_completion(async move {
        registry::remove_version(&state, &caller, &name, &version).await
    })
    .await
}
