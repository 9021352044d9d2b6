//! Model versions (server only): register, read, search, update, stage, delete, tags, and
//! where their files are.

use super::*;

// ---- versions

#[derive(Deserialize)]
pub struct CreateVersion {
    #[serde(default)]
    name: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    model_id: String,
    #[serde(default)]
    run_link: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

/// What a version's `source` may be: where Gantry keeps artifacts (`models:/m-…`,
/// `runs:/…`, `mlflow-artifacts:/…`) or an object store the serving side reads
/// (`s3://`, `gs://`, `https://`). Never a path on Gantry's own disk (`file:` or bare).
pub(super) fn check_source(source: &str) -> Result<(), AppError> {
    const ALLOWED: [&str; 7] = [
        "models:/",
        "runs:/",
        "mlflow-artifacts:/",
        "s3://",
        "gs://",
        "https://",
        "http://",
    ];
    if ALLOWED.iter().any(|p| source.starts_with(p)) && source.len() <= 4000 {
        Ok(())
    } else {
        Err(AppError::invalid(
            "source",
            format!("must start with one of {ALLOWED:?} (at most 4000 characters)"),
        ))
    }
}

pub async fn create_version(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateVersion>,
) -> Reply {
    let model = model_for(&state, &caller, &body.name, Action::ManageModels).await?;
    check_source(&body.source)?;
    if body.tags.len() > 100 {
        return Err(AppError::invalid("tags", "at most 100").into());
    }
    for tag in &body.tags {
        check_tag(tag)?;
    }
    // The run and the logged model must be ones the caller may see: a version cannot point
    // into another team's experiments.
    if !body.run_id.is_empty() {
        let run = store::run(&state.db, &body.run_id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("Run with id={}", body.run_id)))?;
        caller.check(Action::View, Some(&run.namespace))?;
    }
    let logged_model_id = match body.source.strip_prefix("models:/") {
        Some(id) if id.starts_with("m-") && body.model_id.is_empty() => id.to_string(),
        _ => body.model_id.clone(),
    };
    if !logged_model_id.is_empty() {
        let logged = store::logged_model(&state.db, &logged_model_id)
            .await?
            .ok_or_else(|| {
                AppError::not_found(format!("Logged model with id={logged_model_id}"))
            })?;
        caller.check(Action::View, Some(&logged.namespace))?;
    }
    let row = VersionRow {
        model: model.id,
        name: model.name.clone(),
        namespace: model.namespace.clone(),
        version: 0,
        source: body.source.clone(),
        run_id: body.run_id.clone(),
        run_link: body.run_link.clone(),
        logged_model_id,
        description: body.description.clone(),
        stage: "None".into(),
        created_ms: unix_now_ms(),
        updated_ms: unix_now_ms(),
        created_by: caller.username.clone(),
    };
    let mut tx = state.db.begin().await?;
    let created = async {
        let number = store::create_version(tx.conn(), &row).await?;
        for tag in &body.tags {
            store::set_version_tag(tx.conn(), model.id, number, &tag.key, &tag.value).await?;
        }
        Ok(number)
    }
    .await;
    let detail = format!("source {}", body.source);
    let number = audited(
        &state,
        &caller,
        tx,
        "model.version.create",
        object(&model),
        detail,
        created,
    )
    .await?;
    let (_, v) = version_for(
        &state,
        &caller,
        &model.name,
        &number.to_string(),
        Action::View,
    )
    .await?;
    let version = version_json(&state, &v).await?;
    Ok(Json(serde_json::json!({ "model_version": version })))
}

pub async fn version(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let (_, v) = version_for(
        &state,
        &caller,
        params.required("name")?,
        params.required("version")?,
        Action::View,
    )
    .await?;
    let version = version_json(&state, &v).await?;
    Ok(Json(serde_json::json!({ "model_version": version })))
}

impl Subjects for VersionRow {
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "name" => Some(self.name.clone()),
            "run_id" => Some(self.run_id.clone()),
            "source" | "source_path" => Some(self.source.clone()),
            "version_number" => Some(self.version.to_string()),
            _ => None,
        }
    }

    fn tag(&self, _: &str) -> Option<String> {
        None
    }
}

pub async fn search_versions(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Reply {
    let filter = Filter::parse(
        params.get("filter").unwrap_or(""),
        &["name", "run_id", "source", "source_path", "version_number"],
    )?;
    if filter
        .0
        .iter()
        .any(|c| matches!(c.subject, crate::models::filter::Subject::Tag(_)))
    {
        return Err(
            AppError::invalid("filter", "version search does not take tag clauses yet").into(),
        );
    }
    let limit = page_size(
        params.get("max_results").and_then(|m| m.parse().ok()),
        10_000,
        10_000,
    );
    let start = offset(params.get("page_token"))?;
    let rows = store::versions_matching(&state.db, &caller.namespaces, &filter.narrowing()).await?;
    let matching: Vec<&VersionRow> = rows.iter().filter(|v| filter.matches(*v)).collect();
    let page: Vec<&VersionRow> = matching
        .iter()
        .skip(start as usize)
        .take(limit as usize)
        .copied()
        .collect();
    let model_versions = versions_json(&state, &page).await?;
    let mut reply = serde_json::json!({ "model_versions": model_versions });
    if (start + limit) < matching.len() as i64 {
        reply["next_page_token"] = (start + limit).to_string().into();
    }
    Ok(Json(reply))
}

#[derive(Deserialize)]
pub struct VersionChange {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    archive_existing_versions: bool,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

pub async fn update_version(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<VersionChange>,
) -> Reply {
    let (model, v) = version_for(
        &state,
        &caller,
        &body.name,
        &body.version,
        Action::ManageModels,
    )
    .await?;
    let mut tx = state.db.begin().await?;
    let done = store::update_version(
        tx.conn(),
        model.id,
        v.version,
        body.description.as_deref(),
        None,
        unix_now_ms(),
    )
    .await;
    let target = format!("{}/{}", object(&model), v.version);
    audited(
        &state,
        &caller,
        tx,
        "model.version.update",
        target,
        "description".into(),
        done,
    )
    .await?;
    let (_, v) = version_for(&state, &caller, &body.name, &body.version, Action::View).await?;
    let version = version_json(&state, &v).await?;
    Ok(Json(serde_json::json!({ "model_version": version })))
}

pub async fn transition_stage(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<VersionChange>,
) -> Reply {
    move_stage(
        &state,
        &caller,
        &body.name,
        &body.version,
        &body.stage,
        body.archive_existing_versions,
    )
    .await?;
    let (_, v) = version_for(&state, &caller, &body.name, &body.version, Action::View).await?;
    let version = version_json(&state, &v).await?;
    Ok(Json(serde_json::json!({ "model_version": version })))
}

/// Moves a version to `stage` (and, if asked, the model's other versions in that stage to
/// Archived), audited: what both the MLflow API and the model's page do.
pub async fn move_stage(
    state: &AppState,
    caller: &Caller,
    name: &str,
    version: &str,
    stage: &str,
    archive_others: bool,
) -> Result<(), AppError> {
    let stage = STAGES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(stage))
        .ok_or_else(|| AppError::invalid("stage", format!("must be one of {STAGES:?}")))?;
    let (model, v) = version_for(state, caller, name, version, Action::ManageModels).await?;
    let now = unix_now_ms();
    let archive = archive_others && matches!(*stage, "Staging" | "Production");
    let mut tx = state.db.begin().await?;
    let done = async {
        store::update_version(tx.conn(), model.id, v.version, None, Some(stage), now).await?;
        if archive {
            store::archive_others(tx.conn(), model.id, v.version, stage, now).await?;
        }
        Ok(())
    }
    .await;
    let target = format!("{}/{}", object(&model), v.version);
    let others = if archive { ", others archived" } else { "" };
    let detail = format!("{} -> {stage}{others}", v.stage);
    audited(
        state,
        caller,
        tx,
        "model.version.stage",
        target,
        detail,
        done,
    )
    .await
}

pub async fn delete_version(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<VersionChange>,
) -> Reply {
    remove_version(&state, &caller, &body.name, &body.version).await?;
    Ok(Json(serde_json::json!({})))
}

/// Deletes a version with its tags and the aliases pointing at it, audited: what both the
/// MLflow API and the model's page do.
pub async fn remove_version(
    state: &AppState,
    caller: &Caller,
    name: &str,
    version: &str,
) -> Result<(), AppError> {
    let (model, v) = version_for(state, caller, name, version, Action::ManageModels).await?;
    let mut tx = state.db.begin().await?;
    let done = store::delete_version(tx.conn(), model.id, v.version).await;
    let target = format!("{}/{}", object(&model), v.version);
    audited(
        state,
        caller,
        tx,
        "model.version.delete",
        target,
        String::new(),
        done,
    )
    .await
}

pub async fn set_version_tag(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<VersionChange>,
) -> Reply {
    let (model, v) = version_for(
        &state,
        &caller,
        &body.name,
        &body.version,
        Action::ManageModels,
    )
    .await?;
    let tag = KeyValue {
        key: body.key,
        value: body.value,
    };
    check_tag(&tag)?;
    let mut tx = state.db.begin().await?;
    let done = store::set_version_tag(tx.conn(), model.id, v.version, &tag.key, &tag.value).await;
    let target = format!("{}/{}", object(&model), v.version);
    let detail = format!("{}={}", tag.key, tag.value);
    audited(
        &state,
        &caller,
        tx,
        "model.version.tag",
        target,
        detail,
        done,
    )
    .await?;
    Ok(Json(serde_json::json!({})))
}

pub async fn delete_version_tag(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<VersionChange>,
) -> Reply {
    let (model, v) = version_for(
        &state,
        &caller,
        &body.name,
        &body.version,
        Action::ManageModels,
    )
    .await?;
    let mut tx = state.db.begin().await?;
    let done = store::delete_version_tag(tx.conn(), model.id, v.version, &body.key).await;
    let target = format!("{}/{}", object(&model), v.version);
    audited(
        &state,
        &caller,
        tx,
        "model.version.untag",
        target,
        body.key,
        done,
    )
    .await?;
    Ok(Json(serde_json::json!({})))
}

/// Where the version's files are: a logged model's (`models:/m-…`) or run's (`runs:/…`)
/// source resolves to its `mlflow-artifacts:/` URI, which the client then downloads from.
pub async fn download_uri(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let (_, v) = version_for(
        &state,
        &caller,
        params.required("name")?,
        params.required("version")?,
        Action::View,
    )
    .await?;
    let uri = artifact_uri(&state, &v).await?;
    Ok(Json(serde_json::json!({ "artifact_uri": uri })))
}

/// Where version `v`'s files are: a logged model's (`models:/m-…`) or run's (`runs:/…`)
/// source resolves to its `mlflow-artifacts:/` URI; any other source is its own answer.
pub async fn artifact_uri(state: &AppState, v: &VersionRow) -> Result<String, AppError> {
    Ok(
        if let Some(id) = v
            .source
            .strip_prefix("models:/")
            .filter(|id| id.starts_with("m-"))
        {
            let id = id.split('/').next().unwrap_or(id);
            let logged = store::logged_model(&state.db, id)
                .await?
                .ok_or_else(|| AppError::not_found(format!("Logged model with id={id}")))?;
            format!(
                "mlflow-artifacts:/{}/models/{}/artifacts",
                logged.experiment_id, logged.id
            )
        } else if let Some(rest) = v.source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            let run = store::run(&state.db, run_id)
                .await?
                .ok_or_else(|| AppError::not_found(format!("Run with id={run_id}")))?;
            format!(
                "mlflow-artifacts:/{}/{}/artifacts/{}",
                run.experiment_id, run.id, path
            )
            .trim_end_matches('/')
            .to_string()
        } else {
            v.source.clone()
        },
    )
}
