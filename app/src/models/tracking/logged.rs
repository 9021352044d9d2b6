//! MLflow 3's logged models (server only): create, read, finalize, tag, search.

use super::*;

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
        created_ms: unix_now_ms(),
        updated_ms: unix_now_ms(),
        namespace: String::new(),
    };
    let mut tx = state.db.begin().await?;
    store::create_logged_model(tx.conn(), &row).await?;
    for t in &body.tags {
        store::upsert_tag(
            tx.conn(),
            store::LOGGED_MODEL_TAGS,
            row.id.as_str(),
            &t.key,
            &t.value,
        )
        .await?;
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
    store::set_logged_model_status(&state.db, &id, &body.status, unix_now_ms()).await?;
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
        store::upsert_tag(
            tx.conn(),
            store::LOGGED_MODEL_TAGS,
            id.as_str(),
            &t.key,
            &t.value,
        )
        .await?;
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
