//! Experiment tracking as MLflow's client does it (server only): experiments, runs with their
//! params, metrics, tags, inputs and outputs, and MLflow 3's logged models.
//!
//! Every run and logged model is reached through its experiment, whose namespace decides
//! who may read (any role allowed there) and write (data scientists and ops admins).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::filter::{Filter, Subjects};
use super::request::{
    namespace_for, now_ms, numeric_id, offset, page_size, Body, Params, Reply, RunRef,
};
use super::store::{self, ExperimentRow, LoggedModelRow, RunRow};
use super::wire::{
    self, Experiment, KeyValue, LoggedModel, LoggedModelData, LoggedModelInfo, Metric, ModelOutput,
    Run, RunData, RunInfo, RunInputs, RunOutputs,
};
use crate::audit::{self, Entry};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// MLflow's own limits on one `log-batch`.
pub const MAX_BATCH_METRICS: usize = 1000;
pub const MAX_BATCH_PARAMS: usize = 100;
pub const MAX_BATCH_TAGS: usize = 100;
/// MLflow's limits on keys and values (characters).
const MAX_KEY: usize = 250;
const MAX_PARAM_VALUE: usize = 6000;
const MAX_TAG_VALUE: usize = 8000;
/// `metrics/get-history` returns at most this many points a page (the client asks for 25,000).
const MAX_HISTORY_PAGE: i64 = 25_000;

pub fn no_experiment(id: impl std::fmt::Display) -> AppError {
    AppError::not_found(format!("Experiment with id={id}"))
}

fn no_run(id: &str) -> AppError {
    AppError::not_found(format!("Run with id={id}"))
}

/// A key and value within MLflow's limits, or a 400 naming which.
fn check_pair(field: &str, key: &str, value: &str, max_value: usize) -> Result<(), AppError> {
    if key.is_empty() || key.chars().count() > MAX_KEY {
        return Err(AppError::invalid(
            format!("{field}.key"),
            format!("must be 1 to {MAX_KEY} characters"),
        ));
    }
    if value.chars().count() > max_value {
        return Err(AppError::invalid(
            format!("{field}.value"),
            format!("{key:?} is longer than {max_value} characters"),
        ));
    }
    Ok(())
}

// ---- experiments

async fn experiment_json(state: &AppState, row: ExperimentRow) -> Result<Experiment, AppError> {
    Ok(Experiment {
        experiment_id: row.id.to_string(),
        artifact_location: format!("mlflow-artifacts:/{}", row.id),
        tags: store::experiment_tags(&state.db, row.id).await?,
        name: row.name,
        lifecycle_stage: row.lifecycle_stage,
        creation_time: row.created_ms,
        last_update_time: row.updated_ms,
    })
}

/// Experiment `id`, if the caller may take `action` in its namespace.
async fn experiment_for(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: Action,
) -> Result<ExperimentRow, AppError> {
    let row = store::experiment(&state.db, id)
        .await?
        .ok_or_else(|| no_experiment(id))?;
    caller.check(action, Some(&row.namespace))?;
    Ok(row)
}

pub async fn experiment_by_name(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Reply {
    let name = params.required("experiment_name")?;
    let row = store::experiment_by_name(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("Experiment {name:?}")))?;
    caller.check(Action::View, Some(&row.namespace))?;
    let experiment = experiment_json(&state, row).await?;
    Ok(Json(serde_json::json!({ "experiment": experiment })))
}

pub async fn experiment(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let id = numeric_id("experiment_id", params.required("experiment_id")?)?;
    let row = experiment_for(&state, &caller, id, Action::View).await?;
    let experiment = experiment_json(&state, row).await?;
    Ok(Json(serde_json::json!({ "experiment": experiment })))
}

#[derive(Deserialize)]
pub struct CreateExperiment {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub async fn create_experiment(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body<CreateExperiment>,
) -> Reply {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 500 {
        return Err(AppError::invalid("name", "must be 1 to 500 characters").into());
    }
    for tag in &body.tags {
        check_pair("tags", &tag.key, &tag.value, MAX_TAG_VALUE)?;
    }
    let namespace = namespace_for(&caller, &body.tags, &headers)?;
    caller.check(Action::ManageModels, Some(&namespace))?;
    let mut tx = state.db.begin().await?;
    let created = store::create_experiment(tx.conn(), name, &namespace, &body.tags, now_ms()).await;
    let object = format!("experiment/{namespace}/{name}");
    let entry = Entry {
        actor: &caller.username,
        action: "experiment.create",
        object: &object,
        detail: "",
    };
    let id = audit::committed(&state.db, tx, entry, created).await?;
    Ok(Json(serde_json::json!({ "experiment_id": id.to_string() })))
}

#[derive(Deserialize, Default)]
pub struct SearchExperiments {
    #[serde(default, deserialize_with = "wire::opt_int")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

/// The experiments the caller may see, oldest first. Filters are not supported yet: a
/// non-empty one is refused rather than ignored.
pub async fn search_experiments(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Body(body): Body<SearchExperiments>,
) -> Reply {
    if params.get("filter").is_some_and(|f| !f.is_empty()) {
        return Err(
            AppError::invalid("filter", "experiment search does not take a filter yet").into(),
        );
    }
    let limit = page_size(
        body.max_results
            .or_else(|| params.get("max_results").and_then(|m| m.parse().ok())),
        1000,
        store::MAX_PAGE,
    );
    let after = offset(body.page_token.as_deref().or(params.get("page_token")))?;
    let mut found = Vec::new();
    let mut cursor = after;
    // Reads pages until `limit` visible ones are found or the table ends.
    loop {
        let rows = store::experiments(&state.db, cursor, store::MAX_PAGE).await?;
        let ended = (rows.len() as i64) < store::MAX_PAGE;
        for row in rows {
            cursor = row.id;
            if caller.namespaces.allows(&row.namespace) && row.lifecycle_stage == "active" {
                found.push(experiment_json(&state, row).await?);
                if found.len() as i64 == limit {
                    return Ok(Json(serde_json::json!({
                        "experiments": found,
                        "next_page_token": cursor.to_string(),
                    })));
                }
            }
        }
        if ended {
            return Ok(Json(serde_json::json!({ "experiments": found })));
        }
    }
}

// ---- runs

/// Run `id` and its experiment's namespace, if the caller may take `action` there; writes
/// also need the run to be active.
async fn run_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<RunRow, AppError> {
    let row = store::run(&state.db, id).await?.ok_or_else(|| no_run(id))?;
    caller.check(action, Some(&row.namespace))?;
    if action != Action::View && row.lifecycle_stage != "active" {
        return Err(AppError::invalid(
            "run_id",
            format!("run {id} is deleted and cannot be changed"),
        ));
    }
    Ok(row)
}

fn run_info(row: &RunRow) -> RunInfo {
    RunInfo {
        run_id: row.id.clone(),
        run_uuid: row.id.clone(),
        experiment_id: row.experiment_id.to_string(),
        run_name: row.name.clone(),
        user_id: row.user_id.clone(),
        status: row.status.clone(),
        start_time: row.start_ms,
        end_time: row.end_ms,
        artifact_uri: format!(
            "mlflow-artifacts:/{}/{}/artifacts",
            row.experiment_id, row.id
        ),
        lifecycle_stage: row.lifecycle_stage.clone(),
    }
}

pub async fn run_json(state: &AppState, row: &RunRow) -> Result<Run, AppError> {
    let db = &state.db;
    let inputs = store::inputs(db, &row.id)
        .await?
        .into_iter()
        .filter_map(|json| serde_json::from_str(&json).ok())
        .collect();
    Ok(Run {
        info: run_info(row),
        data: RunData {
            metrics: store::latest_metrics(db, &row.id).await?,
            params: store::run_params(db, &row.id).await?,
            tags: store::run_tags(db, &row.id).await?,
        },
        inputs: RunInputs {
            dataset_inputs: inputs,
        },
        outputs: RunOutputs {
            model_outputs: store::outputs(db, &row.id).await?,
        },
    })
}

#[derive(Deserialize)]
pub struct CreateRun {
    #[serde(default)]
    experiment_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_int")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub async fn create_run(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateRun>,
) -> Reply {
    let experiment_id = numeric_id("experiment_id", &body.experiment_id)?;
    let experiment = experiment_for(&state, &caller, experiment_id, Action::ManageModels).await?;
    if body.tags.len() > MAX_BATCH_TAGS {
        return Err(AppError::invalid("tags", format!("at most {MAX_BATCH_TAGS}")).into());
    }
    for tag in &body.tags {
        check_pair("tags", &tag.key, &tag.value, MAX_TAG_VALUE)?;
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let name = body
        .run_name
        .filter(|n| !n.is_empty())
        .or_else(|| {
            body.tags
                .iter()
                .find(|t| t.key == "mlflow.runName")
                .map(|t| t.value.clone())
        })
        .unwrap_or_else(|| format!("run-{}", &id[..8]));
    let mut tags = body.tags;
    tags.retain(|t| t.key != "mlflow.runName");
    tags.push(KeyValue {
        key: "mlflow.runName".into(),
        value: name.clone(),
    });
    let row = RunRow {
        id,
        experiment_id,
        name,
        user_id: if body.user_id.is_empty() {
            caller.username.clone()
        } else {
            body.user_id
        },
        status: "RUNNING".into(),
        start_ms: body.start_time.unwrap_or_else(now_ms),
        end_ms: None,
        lifecycle_stage: "active".into(),
        namespace: experiment.namespace,
    };
    let mut tx = state.db.begin().await?;
    store::create_run(tx.conn(), &row, &tags, &caller.username).await?;
    tx.commit().await?;
    let run = run_json(&state, &row).await?;
    Ok(Json(serde_json::json!({ "run": run })))
}

pub async fn run(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let id = params
        .get("run_id")
        .filter(|id| !id.is_empty())
        .or(params.get("run_uuid"))
        .ok_or_else(|| AppError::invalid("run_id", "is required"))?;
    let row = run_for(&state, &caller, id, Action::View).await?;
    let run = run_json(&state, &row).await?;
    Ok(Json(serde_json::json!({ "run": run })))
}

#[derive(Deserialize)]
pub struct UpdateRun {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "wire::opt_int")]
    end_time: Option<i64>,
    #[serde(default)]
    run_name: Option<String>,
}

const RUN_STATUSES: [&str; 5] = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

pub async fn update_run(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<UpdateRun>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    if let Some(status) = &body.status {
        if !RUN_STATUSES.contains(&status.as_str()) {
            return Err(
                AppError::invalid("status", format!("must be one of {RUN_STATUSES:?}")).into(),
            );
        }
    }
    let name = body.run_name.as_deref().filter(|n| !n.is_empty());
    store::update_run(&state.db, id, body.status.as_deref(), body.end_time, name).await?;
    if let Some(name) = name {
        let mut conn = state.db.begin().await?;
        store::set_run_tag(conn.conn(), id, "mlflow.runName", name).await?;
        conn.commit().await?;
    }
    let row = run_for(&state, &caller, id, Action::View).await?;
    Ok(Json(serde_json::json!({ "run_info": run_info(&row) })))
}

pub async fn delete_run(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<RunRef>,
) -> Reply {
    let id = body.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    store::delete_run(&state.db, id).await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct SearchRuns {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: String,
    #[serde(default, deserialize_with = "wire::opt_int")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

/// The runs of one experiment, newest first (filters are not supported yet and are refused).
pub async fn search_runs(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SearchRuns>,
) -> Reply {
    if !body.filter.trim().is_empty() {
        return Err(AppError::invalid("filter", "run search does not take a filter yet").into());
    }
    let [experiment] = body.experiment_ids.as_slice() else {
        return Err(AppError::invalid("experiment_ids", "give exactly one experiment").into());
    };
    let experiment = numeric_id("experiment_ids", experiment)?;
    experiment_for(&state, &caller, experiment, Action::View).await?;
    let limit = page_size(body.max_results, 1000, store::MAX_PAGE);
    let start = offset(body.page_token.as_deref())?;
    let rows = store::runs(&state.db, experiment, start, limit).await?;
    let mut runs = Vec::new();
    for row in &rows {
        runs.push(run_json(&state, row).await?);
    }
    let mut reply = serde_json::json!({ "runs": runs });
    if rows.len() as i64 == limit {
        reply["next_page_token"] = (start + limit).to_string().into();
    }
    Ok(Json(reply))
}

#[derive(Deserialize)]
pub struct LogParam {
    #[serde(flatten)]
    run: RunRef,
    key: String,
    #[serde(default)]
    value: String,
}

pub async fn log_param(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<LogParam>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    check_pair("param", &body.key, &body.value, MAX_PARAM_VALUE)?;
    let mut tx = state.db.begin().await?;
    store::log_param(tx.conn(), id, &body.key, &body.value).await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct LogMetric {
    #[serde(flatten)]
    run: RunRef,
    #[serde(flatten)]
    metric: Metric,
}

pub async fn log_metric(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<LogMetric>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    check_pair("metric", &body.metric.key, "", 0)?;
    let mut tx = state.db.begin().await?;
    store::log_metrics(tx.conn(), id, std::slice::from_ref(&body.metric)).await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct LogBatch {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    metrics: Vec<Metric>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

/// Params, metrics and tags together, all or nothing.
pub async fn log_batch(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<LogBatch>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    for (field, count, max) in [
        ("metrics", body.metrics.len(), MAX_BATCH_METRICS),
        ("params", body.params.len(), MAX_BATCH_PARAMS),
        ("tags", body.tags.len(), MAX_BATCH_TAGS),
    ] {
        if count > max {
            return Err(AppError::invalid(
                field,
                format!("at most {max} in one batch, not {count}"),
            )
            .into());
        }
    }
    for m in &body.metrics {
        check_pair("metrics", &m.key, "", 0)?;
    }
    for p in &body.params {
        check_pair("params", &p.key, &p.value, MAX_PARAM_VALUE)?;
    }
    for t in &body.tags {
        check_pair("tags", &t.key, &t.value, MAX_TAG_VALUE)?;
    }
    let mut tx = state.db.begin().await?;
    for p in &body.params {
        store::log_param(tx.conn(), id, &p.key, &p.value).await?;
    }
    store::log_metrics(tx.conn(), id, &body.metrics).await?;
    for t in &body.tags {
        store::set_run_tag(tx.conn(), id, &t.key, &t.value).await?;
    }
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct SetTag {
    #[serde(flatten)]
    run: RunRef,
    key: String,
    #[serde(default)]
    value: String,
}

pub async fn set_tag(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SetTag>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    check_pair("tag", &body.key, &body.value, MAX_TAG_VALUE)?;
    let mut tx = state.db.begin().await?;
    store::set_run_tag(tx.conn(), id, &body.key, &body.value).await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct DeleteTag {
    #[serde(flatten)]
    run: RunRef,
    key: String,
}

pub async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<DeleteTag>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    if !store::delete_run_tag(&state.db, id, &body.key).await? {
        return Err(AppError::not_found(format!("tag {:?} of run {id}", body.key)).into());
    }
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct LogOutputs {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    models: Vec<ModelOutput>,
}

pub async fn log_outputs(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<LogOutputs>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    if body.models.len() > MAX_BATCH_METRICS {
        return Err(AppError::invalid("models", format!("at most {MAX_BATCH_METRICS}")).into());
    }
    let mut tx = state.db.begin().await?;
    store::add_outputs(tx.conn(), id, &body.models).await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct LogInputs {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    datasets: Vec<serde_json::Value>,
}

pub async fn log_inputs(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<LogInputs>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    if body.datasets.len() > MAX_BATCH_TAGS {
        return Err(AppError::invalid("datasets", format!("at most {MAX_BATCH_TAGS}")).into());
    }
    let mut tx = state.db.begin().await?;
    for input in &body.datasets {
        let dataset = &input["dataset"];
        let name = dataset["name"].as_str().unwrap_or_default();
        let digest = dataset["digest"].as_str().unwrap_or_default();
        if name.is_empty() {
            return Err(AppError::invalid("datasets.dataset.name", "is required").into());
        }
        store::add_input(tx.conn(), id, name, digest, &input.to_string()).await?;
    }
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct LogModelJson {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    model_json: String,
}

/// MLflow 2.x clients' record of a logged model: kept, as MLflow's server keeps it, in the
/// run's `mlflow.log-model.history` tag.
pub async fn log_model_json(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<LogModelJson>,
) -> Reply {
    let id = body.run.id()?;
    run_for(&state, &caller, id, Action::ManageModels).await?;
    let model: serde_json::Value = serde_json::from_str(&body.model_json)
        .map_err(|e| AppError::invalid("model_json", e.to_string()))?;
    let tags = store::run_tags(&state.db, id).await?;
    let mut history: Vec<serde_json::Value> = tags
        .iter()
        .find(|t| t.key == "mlflow.log-model.history")
        .and_then(|t| serde_json::from_str(&t.value).ok())
        .unwrap_or_default();
    if !history.contains(&model) {
        history.push(model);
    }
    let value = serde_json::to_string(&history).unwrap_or_default();
    check_pair(
        "model_json",
        "mlflow.log-model.history",
        &value,
        MAX_TAG_VALUE,
    )?;
    let mut tx = state.db.begin().await?;
    store::set_run_tag(tx.conn(), id, "mlflow.log-model.history", &value).await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

pub async fn metric_history(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Reply {
    let id = params
        .get("run_id")
        .filter(|id| !id.is_empty())
        .or(params.get("run_uuid"))
        .ok_or_else(|| AppError::invalid("run_id", "is required"))?;
    let key = params.required("metric_key")?;
    run_for(&state, &caller, id, Action::View).await?;
    let limit = page_size(
        params.get("max_results").and_then(|m| m.parse().ok()),
        MAX_HISTORY_PAGE,
        MAX_HISTORY_PAGE,
    );
    let start = offset(params.get("page_token"))?;
    let metrics = store::metric_history(&state.db, id, key, start, limit).await?;
    let mut reply = serde_json::json!({ "metrics": metrics });
    if metrics.len() as i64 == limit {
        reply["next_page_token"] = (start + limit).to_string().into();
    }
    Ok(Json(reply))
}

// ---- logged models

const LOGGED_STATUSES: [&str; 3] = [
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
];

async fn logged_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<LoggedModelRow, AppError> {
    let row = store::logged_model(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("Logged model with id={id}")))?;
    caller.check(action, Some(&row.namespace))?;
    Ok(row)
}

async fn logged_json(state: &AppState, row: LoggedModelRow) -> Result<LoggedModel, AppError> {
    let params: Vec<KeyValue> = serde_json::from_str(&row.params).unwrap_or_default();
    Ok(LoggedModel {
        data: LoggedModelData {
            params,
            metrics: store::logged_model_metrics(&state.db, &row.id).await?,
        },
        info: LoggedModelInfo {
            artifact_uri: format!(
                "mlflow-artifacts:/{}/models/{}/artifacts",
                row.experiment_id, row.id
            ),
            tags: store::logged_model_tags(&state.db, &row.id).await?,
            experiment_id: row.experiment_id.to_string(),
            model_id: row.id,
            name: row.name,
            source_run_id: row.source_run_id,
            status: row.status,
            creation_timestamp_ms: row.created_ms,
            last_updated_timestamp_ms: row.updated_ms,
            model_type: row.model_type,
        },
    })
}

#[derive(Deserialize)]
pub struct CreateLoggedModel {
    #[serde(default)]
    experiment_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    model_type: Option<String>,
}

pub async fn create_logged_model(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateLoggedModel>,
) -> Reply {
    let experiment = numeric_id("experiment_id", &body.experiment_id)?;
    experiment_for(&state, &caller, experiment, Action::ManageModels).await?;
    let source_run_id = body.source_run_id.filter(|r| !r.is_empty());
    if let Some(run) = &source_run_id {
        run_for(&state, &caller, run, Action::View).await?;
    }
    if body.params.len() > MAX_BATCH_PARAMS || body.tags.len() > MAX_BATCH_TAGS {
        return Err(AppError::invalid("params", "at most 100 params and 100 tags").into());
    }
    for p in &body.params {
        check_pair("params", &p.key, &p.value, MAX_PARAM_VALUE)?;
    }
    for t in &body.tags {
        check_pair("tags", &t.key, &t.value, MAX_TAG_VALUE)?;
    }
    let id = format!("m-{}", uuid::Uuid::new_v4().simple());
    let name = if body.name.is_empty() {
        "model".to_string()
    } else {
        body.name
    };
    let row = LoggedModelRow {
        id,
        experiment_id: experiment,
        name,
        source_run_id,
        status: "LOGGED_MODEL_PENDING".into(),
        model_type: body.model_type.unwrap_or_default(),
        params: serde_json::to_string(&body.params).unwrap_or_else(|_| "[]".into()),
        created_ms: now_ms(),
        updated_ms: now_ms(),
        namespace: String::new(),
    };
    let mut tx = state.db.begin().await?;
    store::create_logged_model(tx.conn(), &row).await?;
    for t in &body.tags {
        store::set_logged_model_tag(tx.conn(), &row.id, &t.key, &t.value).await?;
    }
    tx.commit().await?;
    let row = logged_for(&state, &caller, &row.id, Action::View).await?;
    let model = logged_json(&state, row).await?;
    Ok(Json(serde_json::json!({ "model": model })))
}

pub async fn logged_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    let row = logged_for(&state, &caller, &id, Action::View).await?;
    let model = logged_json(&state, row).await?;
    Ok(Json(serde_json::json!({ "model": model })))
}

#[derive(Deserialize)]
pub struct Finalize {
    #[serde(default)]
    status: String,
}

pub async fn finalize_logged_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Finalize>,
) -> Reply {
    logged_for(&state, &caller, &id, Action::ManageModels).await?;
    if !LOGGED_STATUSES.contains(&body.status.as_str()) {
        return Err(
            AppError::invalid("status", format!("must be one of {LOGGED_STATUSES:?}")).into(),
        );
    }
    store::set_logged_model_status(&state.db, &id, &body.status, now_ms()).await?;
    let row = logged_for(&state, &caller, &id, Action::View).await?;
    let model = logged_json(&state, row).await?;
    Ok(Json(serde_json::json!({ "model": model })))
}

#[derive(Deserialize)]
pub struct TagLoggedModel {
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub async fn tag_logged_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<TagLoggedModel>,
) -> Reply {
    logged_for(&state, &caller, &id, Action::ManageModels).await?;
    if body.tags.len() > MAX_BATCH_TAGS {
        return Err(AppError::invalid("tags", format!("at most {MAX_BATCH_TAGS}")).into());
    }
    let mut tx = state.db.begin().await?;
    for t in &body.tags {
        check_pair("tags", &t.key, &t.value, MAX_TAG_VALUE)?;
        store::set_logged_model_tag(tx.conn(), &id, &t.key, &t.value).await?;
    }
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct SearchLoggedModels {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: String,
    #[serde(default, deserialize_with = "wire::opt_int")]
    max_results: Option<i64>,
}

impl Subjects for LoggedModelRow {
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "name" => Some(self.name.clone()),
            "source_run_id" => self.source_run_id.clone(),
            "status" => Some(self.status.clone()),
            "model_type" => Some(self.model_type.clone()),
            _ => None,
        }
    }

    fn tag(&self, _: &str) -> Option<String> {
        None
    }
}

/// The logged models of the given experiments that match `filter`, newest first: how
/// `register_model("runs:/…")` finds the model a run logged.
pub async fn search_logged_models(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SearchLoggedModels>,
) -> Reply {
    let filter = Filter::parse(
        &body.filter,
        &["name", "source_run_id", "status", "model_type"],
    )?;
    let limit = page_size(body.max_results, 100, store::MAX_PAGE);
    if body.experiment_ids.len() > 100 {
        return Err(AppError::invalid("experiment_ids", "at most 100").into());
    }
    let mut models = Vec::new();
    for experiment in &body.experiment_ids {
        let experiment = numeric_id("experiment_ids", experiment)?;
        experiment_for(&state, &caller, experiment, Action::View).await?;
        for row in store::logged_models(
            &state.db,
            experiment,
            filter.equals("name"),
            store::MAX_PAGE,
        )
        .await?
        {
            if filter.matches(&row) && (models.len() as i64) < limit {
                models.push(logged_json(&state, row).await?);
            }
        }
    }
    Ok(Json(serde_json::json!({ "models": models })))
}
