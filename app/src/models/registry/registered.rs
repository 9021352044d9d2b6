//! Registered models and their aliases (server only): create, read, search, update, rename,
//! delete, tags, latest versions, aliases.

use super::*;

// ---- registered models

#[derive(Deserialize)]
pub struct CreateModel {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    description: String,
}

pub async fn create_model(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body<CreateModel>,
) -> Reply {
    check_model_name("name", &body.name)?;
    if body.tags.len() > 100 {
        return Err(AppError::invalid("tags", "at most 100").into());
    }
    for tag in &body.tags {
        check_tag(tag)?;
    }
    let namespace = namespace_for(&caller, &body.tags, &headers)?;
    caller.check(Action::ManageModels, Some(&namespace))?;
    let mut tx = state.db.begin().await?;
    let created = store::create_registered(
        tx.conn(),
        &body.name,
        &namespace,
        &body.description,
        &body.tags,
        &caller.username,
        unix_now_ms(),
    )
    .await;
    let target = format!("model/{namespace}/{}", body.name);
    audited(
        &state,
        &caller,
        tx,
        "model.create",
        target,
        String::new(),
        created,
    )
    .await?;
    let row = model_for(&state, &caller, &body.name, Action::View).await?;
    let model = model_json(&state, &row).await?;
    Ok(Json(serde_json::json!({ "registered_model": model })))
}

pub async fn model(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let row = model_for(&state, &caller, params.required("name")?, Action::View).await?;
    let model = model_json(&state, &row).await?;
    Ok(Json(serde_json::json!({ "registered_model": model })))
}

/// A registered model with its tags, as a search's filter sees it.
struct Searched<'a> {
    row: &'a RegisteredRow,
    tags: HashMap<&'a str, &'a str>,
}

impl Subjects for Searched<'_> {
    fn field(&self, name: &str) -> Option<String> {
        (name == "name").then(|| self.row.name.clone())
    }

    fn tag(&self, key: &str) -> Option<String> {
        self.tags.get(key).map(|v| v.to_string())
    }
}

/// The registered models the caller may see that match the filter, by name.
pub async fn search_models(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let filter = Filter::parse(params.get("filter").unwrap_or(""), &["name"])?;
    let limit = page_size(
        params.get("max_results").and_then(|m| m.parse().ok()),
        100,
        store::MAX_PAGE,
    );
    let start = offset(params.get("page_token"))?;
    let rows =
        store::registered_matching(&state.db, &caller.namespaces, &filter.narrowing()).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let tags = store::registered_tags_of(&state.db, &ids).await?;
    let mut by_model: HashMap<i64, HashMap<&str, &str>> = HashMap::new();
    for (model, key, value) in &tags {
        by_model.entry(*model).or_default().insert(key, value);
    }
    let matching: Vec<&RegisteredRow> = rows
        .iter()
        .filter(|row| {
            filter.matches(&Searched {
                row,
                tags: by_model.remove(&row.id).unwrap_or_default(),
            })
        })
        .collect();
    let page: Vec<&RegisteredRow> = matching
        .iter()
        .skip(start as usize)
        .take(limit as usize)
        .copied()
        .collect();
    let models = models_json(&state, &page).await?;
    let mut reply = serde_json::json!({ "registered_models": models });
    if (start + limit) < matching.len() as i64 {
        reply["next_page_token"] = (start + limit).to_string().into();
    }
    Ok(Json(reply))
}

#[derive(Deserialize)]
pub struct UpdateModel {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: Option<String>,
}

pub async fn update_model(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<UpdateModel>,
) -> Reply {
    let row = model_for(&state, &caller, &body.name, Action::ManageModels).await?;
    let mut tx = state.db.begin().await?;
    let done = store::update_registered(
        tx.conn(),
        row.id,
        body.description.as_deref(),
        None,
        unix_now_ms(),
    )
    .await;
    audited(
        &state,
        &caller,
        tx,
        "model.update",
        object(&row),
        "description".into(),
        done,
    )
    .await?;
    let row = model_for(&state, &caller, &body.name, Action::View).await?;
    let model = model_json(&state, &row).await?;
    Ok(Json(serde_json::json!({ "registered_model": model })))
}

#[derive(Deserialize)]
pub struct RenameModel {
    #[serde(default)]
    name: String,
    #[serde(default)]
    new_name: String,
}

pub async fn rename_model(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<RenameModel>,
) -> Reply {
    let row = model_for(&state, &caller, &body.name, Action::ManageModels).await?;
    check_model_name("new_name", &body.new_name)?;
    let mut tx = state.db.begin().await?;
    let done =
        store::update_registered(tx.conn(), row.id, None, Some(&body.new_name), unix_now_ms())
            .await;
    let detail = format!("renamed to {:?}", body.new_name);
    audited(
        &state,
        &caller,
        tx,
        "model.rename",
        object(&row),
        detail,
        done,
    )
    .await?;
    let row = model_for(&state, &caller, &body.new_name, Action::View).await?;
    let model = model_json(&state, &row).await?;
    Ok(Json(serde_json::json!({ "registered_model": model })))
}

#[derive(Deserialize)]
pub struct NameOnly {
    #[serde(default)]
    name: String,
}

pub async fn delete_model(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NameOnly>,
) -> Reply {
    let row = model_for(&state, &caller, &body.name, Action::ManageModels).await?;
    let mut tx = state.db.begin().await?;
    let done = store::delete_registered(tx.conn(), row.id).await;
    audited(
        &state,
        &caller,
        tx,
        "model.delete",
        object(&row),
        String::new(),
        done,
    )
    .await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct ModelTag {
    #[serde(default)]
    name: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

pub async fn set_model_tag(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<ModelTag>,
) -> Reply {
    let row = model_for(&state, &caller, &body.name, Action::ManageModels).await?;
    let tag = KeyValue {
        key: body.key,
        value: body.value,
    };
    check_tag(&tag)?;
    let mut tx = state.db.begin().await?;
    let done = store::upsert_tag(
        tx.conn(),
        store::REGISTERED_TAGS,
        row.id,
        &tag.key,
        &tag.value,
    )
    .await;
    let detail = format!("{}={}", tag.key, tag.value);
    audited(&state, &caller, tx, "model.tag", object(&row), detail, done).await?;
    Ok(Json(serde_json::json!({})))
}

pub async fn delete_model_tag(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<ModelTag>,
) -> Reply {
    let row = model_for(&state, &caller, &body.name, Action::ManageModels).await?;
    let mut tx = state.db.begin().await?;
    let done = store::delete_registered_tag(tx.conn(), row.id, &body.key).await;
    audited(
        &state,
        &caller,
        tx,
        "model.untag",
        object(&row),
        body.key,
        done,
    )
    .await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize, Default)]
pub struct LatestVersions {
    #[serde(default)]
    name: String,
    #[serde(default)]
    stages: Vec<String>,
}

/// The highest version in each stage (or in the given stages); the client falls back to GET.
pub async fn latest_versions(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Body(body): Body<LatestVersions>,
) -> Reply {
    let name = if body.name.is_empty() {
        params.get("name").unwrap_or_default().to_string()
    } else {
        body.name
    };
    let stages = if body.stages.is_empty() {
        params.all("stages")
    } else {
        body.stages
    };
    let row = model_for(&state, &caller, &name, Action::View).await?;
    let latest = store::latest_versions_of(&state.db, &[row.id]).await?;
    let wanted: Vec<&VersionRow> = latest.iter().filter(|v| in_stages(v, &stages)).collect();
    let model_versions = versions_json(&state, &wanted).await?;
    Ok(Json(
        serde_json::json!({ "model_versions": model_versions }),
    ))
}

// ---- aliases

pub(super) fn check_alias(alias: &str) -> Result<(), AppError> {
    let ok = !alias.is_empty()
        && alias.len() <= 255
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !alias.eq_ignore_ascii_case("latest")
        && !(alias.starts_with(['v', 'V']) && alias[1..].parse::<u64>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "alias",
            "must be 1 to 255 letters, digits, '_' or '-', and neither 'latest' nor v<number>",
        ))
    }
}

pub async fn alias(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
    let row = model_for(&state, &caller, params.required("name")?, Action::View).await?;
    let alias = params.required("alias")?;
    let version = store::aliases(&state.db, row.id)
        .await?
        .into_iter()
        .find(|(a, _)| a == alias)
        .map(|(_, v)| v)
        .ok_or_else(|| {
            AppError::invalid(
                "alias",
                format!("Registered model alias {alias} not found."),
            )
        })?;
    let (_, v) = version_for(
        &state,
        &caller,
        &row.name,
        &version.to_string(),
        Action::View,
    )
    .await?;
    let version = version_json(&state, &v).await?;
    Ok(Json(serde_json::json!({ "model_version": version })))
}

#[derive(Deserialize)]
pub struct SetAlias {
    #[serde(default)]
    name: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    version: String,
}

pub async fn set_alias(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SetAlias>,
) -> Reply {
    point_alias(&state, &caller, &body.name, &body.alias, &body.version).await?;
    Ok(Json(serde_json::json!({})))
}

/// Points `alias` of model `name` at `version` (moving it if it pointed elsewhere), audited:
/// what both the MLflow API and the model's page do.
pub async fn point_alias(
    state: &AppState,
    caller: &Caller,
    name: &str,
    alias: &str,
    version: &str,
) -> Result<(), AppError> {
    check_alias(alias)?;
    let (model, v) = version_for(state, caller, name, version, Action::ManageModels).await?;
    let mut tx = state.db.begin().await?;
    let done = store::set_alias(tx.conn(), model.id, alias, v.version).await;
    let detail = format!("@{alias} -> version {}", v.version);
    audited(
        state,
        caller,
        tx,
        "model.alias",
        object(&model),
        detail,
        done,
    )
    .await
}

pub async fn delete_alias(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Body(body): Body<SetAlias>,
) -> Reply {
    let name = if body.name.is_empty() {
        params.get("name").unwrap_or_default().to_string()
    } else {
        body.name
    };
    let alias = if body.alias.is_empty() {
        params.get("alias").unwrap_or_default().to_string()
    } else {
        body.alias
    };
    let model = model_for(&state, &caller, &name, Action::ManageModels).await?;
    let mut tx = state.db.begin().await?;
    let done = store::delete_alias(tx.conn(), model.id, &alias).await;
    let detail = format!("@{alias} removed");
    audited(
        &state,
        &caller,
        tx,
        "model.alias",
        object(&model),
        detail,
        done,
    )
    .await?;
    Ok(Json(serde_json::json!({})))
}
