//! Runs (server only): create, read, update, delete, search; their params, metrics, tags,
//! inputs and outputs, and metric histories.

use super::*;

// ---- runs

/// Run `id` and its experiment's namespace, if the caller may take `action` there; writes
/// also need the run to be active.
pub(super) async fn run_for(
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

/// The runs of `rows` as MLflow's client reads them, their params, tags, latest metrics,
/// inputs and outputs read in one statement each for the whole page.
pub async fn runs_json(state: &AppState, rows: &[RunRow]) -> Result<Vec<Run>, AppError> {
    let db = &state.db;
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut metrics = store::latest_metrics_of(db, &ids).await?;
    let mut params = store::run_params_of(db, &ids).await?;
    let mut tags = store::run_tags_of(db, &ids).await?;
    let mut inputs = store::inputs_of(db, &ids).await?;
    let mut outputs = store::outputs_of(db, &ids).await?;
    let runs = rows.iter().map(|row| Run {
        info: run_info(row),
        data: RunData {
            metrics: metrics.remove(&row.id).unwrap_or_default(),
            params: params.remove(&row.id).unwrap_or_default(),
            tags: tags.remove(&row.id).unwrap_or_default(),
        },
        inputs: RunInputs {
            dataset_inputs: inputs
                .remove(&row.id)
                .unwrap_or_default()
                .iter()
                .filter_map(|json| serde_json::from_str(json).ok())
                .collect(),
        },
        outputs: RunOutputs {
            model_outputs: outputs.remove(&row.id).unwrap_or_default(),
        },
    });
    Ok(runs.collect())
}

pub async fn run_json(state: &AppState, row: &RunRow) -> Result<Run, AppError> {
    let mut runs = runs_json(state, std::slice::from_ref(row)).await?;
    runs.pop()
        .ok_or_else(|| AppError::internal("reading a run", "no run read"))
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
        start_ms: body.start_time.unwrap_or_else(unix_now_ms),
        end_ms: None,
        lifecycle_stage: "active".into(),
        namespace: experiment.namespace,
        job_name: None,
        job_uid: None,
    };
    let mut tx = state.db.begin().await?;
    store::create_run(tx.conn(), &row, &tags, &caller.username).await?;
    tx.commit().await?;
    let run = run_json(&state, &row).await?;
    Ok(Json(serde_json::json!({ "run": run })))
}

pub async fn run(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let id = params.run_id()?;
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
        store::upsert_tag(conn.conn(), store::RUN_TAGS, id, "mlflow.runName", name).await?;
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
        store::upsert_tag(tx.conn(), store::RUN_TAGS, id, &t.key, &t.value).await?;
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
    store::upsert_tag(tx.conn(), store::RUN_TAGS, id, &body.key, &body.value).await?;
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
    store::upsert_tag(
        tx.conn(),
        store::RUN_TAGS,
        id,
        "mlflow.log-model.history",
        &value,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({})))
}

pub async fn metric_history(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Reply {
    let id = params.run_id()?;
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
