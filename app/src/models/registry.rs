//! The model registry as MLflow's client uses it (server only): registered models, their
//! versions, tags, stages and aliases.
//!
//! A registered model belongs to a namespace; its versions follow it. Reads need any role
//! there, writes a data scientist or ops admin, and every write is in the audit log in the
//! same transaction as the change.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::filter::{Filter, Subjects};
use super::request::{namespace_for, now_ms, numeric_id, offset, page_size, Body, Params, Reply};
use super::store::{self, RegisteredRow, VersionRow};
use super::wire::{Alias, KeyValue, ModelVersion, RegisteredModel};
use crate::audit::{self, Entry};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

fn no_model(name: &str) -> AppError {
    AppError::not_found(format!("Registered Model with name={name}"))
}

/// Registered model `name`, if the caller may take `action` in its namespace.
async fn model_for(
    state: &AppState,
    caller: &Caller,
    name: &str,
    action: Action,
) -> Result<RegisteredRow, AppError> {
    if name.is_empty() {
        return Err(AppError::invalid("name", "is required"));
    }
    let row = store::registered(&state.db, name)
        .await?
        .ok_or_else(|| no_model(name))?;
    caller.check(action, Some(&row.namespace))?;
    Ok(row)
}

async fn version_for(
    state: &AppState,
    caller: &Caller,
    name: &str,
    version: &str,
    action: Action,
) -> Result<(RegisteredRow, VersionRow), AppError> {
    let model = model_for(state, caller, name, action).await?;
    let number = numeric_id("version", version)?;
    let row = store::version(&state.db, model.id, number)
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!("Model Version (name={name}, version={version})"))
        })?;
    Ok((model, row))
}

/// Finishes a registry write: the change and its audit row commit together.
async fn audited<T>(
    state: &AppState,
    caller: &Caller,
    tx: crate::db::Tx,
    action: &str,
    object: String,
    detail: String,
    outcome: Result<T, AppError>,
) -> Result<T, AppError> {
    let entry = Entry {
        actor: &caller.username,
        action,
        object: &object,
        detail: &detail,
    };
    audit::committed(&state.db, tx, entry, outcome).await
}

fn object(model: &RegisteredRow) -> String {
    format!("model/{}/{}", model.namespace, model.name)
}

/// What versions show besides their rows (tags, aliases), read once for all their models.
#[derive(Default)]
struct Extras {
    tags: HashMap<(i64, i64), Vec<KeyValue>>,
    aliases: HashMap<i64, Vec<(String, i64)>>,
}

impl Extras {
    async fn load(state: &AppState, models: &[i64]) -> Result<Extras, AppError> {
        let mut extras = Extras::default();
        for (model, version, key, value) in store::version_tags_of(&state.db, models).await? {
            extras
                .tags
                .entry((model, version))
                .or_default()
                .push(KeyValue { key, value });
        }
        for (model, alias, version) in store::aliases_of(&state.db, models).await? {
            extras
                .aliases
                .entry(model)
                .or_default()
                .push((alias, version));
        }
        Ok(extras)
    }

    fn version(&self, row: &VersionRow) -> ModelVersion {
        let aliases = self
            .aliases
            .get(&row.model)
            .into_iter()
            .flatten()
            .filter(|(_, v)| *v == row.version)
            .map(|(alias, _)| alias.clone())
            .collect();
        ModelVersion {
            name: row.name.clone(),
            version: row.version.to_string(),
            creation_timestamp: row.created_ms,
            last_updated_timestamp: row.updated_ms,
            current_stage: row.stage.clone(),
            description: row.description.clone(),
            source: row.source.clone(),
            run_id: row.run_id.clone(),
            run_link: row.run_link.clone(),
            status: "READY".into(),
            tags: self
                .tags
                .get(&(row.model, row.version))
                .cloned()
                .unwrap_or_default(),
            aliases,
            model_id: (!row.logged_model_id.is_empty()).then(|| row.logged_model_id.clone()),
            user_id: row.created_by.clone(),
        }
    }
}

pub async fn version_json(state: &AppState, row: &VersionRow) -> Result<ModelVersion, AppError> {
    Ok(Extras::load(state, &[row.model]).await?.version(row))
}

/// Versions as MLflow shows them, their tags and aliases read in two statements in all.
async fn versions_json(
    state: &AppState,
    rows: &[&VersionRow],
) -> Result<Vec<ModelVersion>, AppError> {
    let mut models: Vec<i64> = rows.iter().map(|v| v.model).collect();
    models.sort_unstable();
    models.dedup();
    let extras = Extras::load(state, &models).await?;
    Ok(rows.iter().map(|row| extras.version(row)).collect())
}

/// The highest version in each stage, as `latest_versions` and get-latest-versions give them.
fn latest_per_stage(versions: &[VersionRow], stages: &[String]) -> Vec<VersionRow> {
    let mut latest: Vec<VersionRow> = Vec::new();
    for v in versions {
        let wanted = stages.is_empty() || stages.iter().any(|s| s.eq_ignore_ascii_case(&v.stage));
        let newer = latest
            .iter()
            .position(|l| l.stage == v.stage)
            .map(|i| (i, latest[i].version < v.version));
        match (wanted, newer) {
            (false, _) => {}
            (true, None) => latest.push(v.clone()),
            (true, Some((i, true))) => latest[i] = v.clone(),
            (true, Some((_, false))) => {}
        }
    }
    latest.sort_by_key(|v| v.version);
    latest
}

pub async fn model_json(
    state: &AppState,
    row: &RegisteredRow,
) -> Result<RegisteredModel, AppError> {
    let mut models = models_json(state, &[row]).await?;
    models
        .pop()
        .ok_or_else(|| AppError::internal("showing a model", "no model read back"))
}

/// Registered models as MLflow shows them (latest version per stage, tags, aliases), read in
/// four statements for the whole page.
async fn models_json(
    state: &AppState,
    rows: &[&RegisteredRow],
) -> Result<Vec<RegisteredModel>, AppError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut versions: HashMap<i64, Vec<VersionRow>> = HashMap::new();
    for v in store::versions_of(&state.db, &ids).await? {
        versions.entry(v.model).or_default().push(v);
    }
    let mut tags: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    for (model, key, value) in store::registered_tags_of(&state.db, &ids).await? {
        tags.entry(model).or_default().push(KeyValue { key, value });
    }
    let extras = Extras::load(state, &ids).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let mine = versions.remove(&row.id).unwrap_or_default();
            RegisteredModel {
                name: row.name.clone(),
                creation_timestamp: row.created_ms,
                last_updated_timestamp: row.updated_ms,
                description: row.description.clone(),
                latest_versions: latest_per_stage(&mine, &[])
                    .iter()
                    .map(|v| extras.version(v))
                    .collect(),
                tags: tags.remove(&row.id).unwrap_or_default(),
                aliases: extras
                    .aliases
                    .get(&row.id)
                    .into_iter()
                    .flatten()
                    .map(|(alias, version)| Alias {
                        alias: alias.clone(),
                        version: version.to_string(),
                    })
                    .collect(),
            }
        })
        .collect())
}

fn check_name(name: &str) -> Result<(), AppError> {
    if name.trim().is_empty() || name.chars().count() > 256 || name.contains('/') {
        return Err(AppError::invalid(
            "name",
            "must be 1 to 256 characters, without '/'",
        ));
    }
    Ok(())
}

fn check_tag(tag: &KeyValue) -> Result<(), AppError> {
    if tag.key.is_empty() || tag.key.chars().count() > 250 {
        return Err(AppError::invalid("tags.key", "must be 1 to 250 characters"));
    }
    if tag.value.chars().count() > 8000 {
        return Err(AppError::invalid(
            "tags.value",
            "must be at most 8000 characters",
        ));
    }
    Ok(())
}

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
    check_name(&body.name)?;
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
        now_ms(),
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
        now_ms(),
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
    check_name(&body.new_name)
        .map_err(|_| AppError::invalid("new_name", "must be 1 to 256 characters, without '/'"))?;
    let mut tx = state.db.begin().await?;
    let done =
        store::update_registered(tx.conn(), row.id, None, Some(&body.new_name), now_ms()).await;
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
    let done = store::set_registered_tag(tx.conn(), row.id, &tag.key, &tag.value).await;
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
    let versions = store::versions(&state.db, row.id).await?;
    let latest = latest_per_stage(&versions, &stages);
    let model_versions = versions_json(&state, &latest.iter().collect::<Vec<_>>()).await?;
    Ok(Json(
        serde_json::json!({ "model_versions": model_versions }),
    ))
}

// ---- aliases

fn check_alias(alias: &str) -> Result<(), AppError> {
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
fn check_source(source: &str) -> Result<(), AppError> {
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
        created_ms: now_ms(),
        updated_ms: now_ms(),
        created_by: caller.username.clone(),
    };
    // Two registrations at once may both pick the same next number; the one that loses the
    // race takes the number after, instead of failing the client's register_model.
    let mut attempt = 1;
    let (tx, created) = loop {
        let mut tx = state.db.begin().await?;
        let created = async {
            let number = store::create_version(tx.conn(), &row).await?;
            for tag in &body.tags {
                store::set_version_tag(tx.conn(), model.id, number, &tag.key, &tag.value).await?;
            }
            Ok(number)
        }
        .await;
        match created {
            Err(AppError::Conflict { .. }) if attempt < 3 => attempt += 1,
            created => break (tx, created),
        }
    };
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
        .any(|c| matches!(c.subject, super::filter::Subject::Tag(_)))
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
        now_ms(),
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
    let now = now_ms();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: i64, stage: &str) -> VersionRow {
        VersionRow {
            model: 1,
            name: "m".into(),
            namespace: "team-a".into(),
            version,
            source: String::new(),
            run_id: String::new(),
            run_link: String::new(),
            logged_model_id: String::new(),
            description: String::new(),
            stage: stage.into(),
            created_ms: 0,
            updated_ms: 0,
            created_by: String::new(),
        }
    }

    #[test]
    fn latest_versions_are_the_highest_per_stage() {
        let all = [
            v(3, "None"),
            v(2, "Production"),
            v(1, "None"),
            v(4, "Production"),
        ];
        let got: Vec<(i64, String)> = latest_per_stage(&all, &[])
            .into_iter()
            .map(|v| (v.version, v.stage))
            .collect();
        assert_eq!(
            got,
            [(3, "None".to_string()), (4, "Production".to_string())]
        );
        let only = latest_per_stage(&all, &["production".to_string()]);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].version, 4);
    }

    #[test]
    fn sources_on_gantrys_disk_and_odd_aliases_are_refused() {
        for ok in [
            "models:/m-abc",
            "runs:/r/model",
            "s3://bucket/m",
            "mlflow-artifacts:/1/r",
        ] {
            assert!(check_source(ok).is_ok(), "{ok}");
        }
        for bad in ["file:///etc", "/data/model", "", "ftp://x"] {
            assert!(check_source(bad).is_err(), "{bad}");
        }
        assert!(check_alias("champion").is_ok());
        for bad in ["latest", "v3", "", "a b", "x/y"] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
    }
}
