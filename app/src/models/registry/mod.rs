//! The model registry as MLflow's client uses it (server only): registered models, their
//! versions, tags, stages and aliases.
//!
//! A registered model belongs to a namespace; its versions follow it. Reads need any role
//! there, writes a data scientist or ops admin, and every write is in the audit log in the
//! same transaction as the change.
//!
//! Here: what both share (finding a model or version as the caller, auditing, MLflow's JSON
//! for pages of them); `registered` (models and aliases) and `versions` hold the handlers.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::filter::{Filter, Subjects};
use super::request::{namespace_for, numeric_id, offset, page_size, Body, Params, Reply};
use super::store::{self, RegisteredRow, VersionRow};
use super::wire::{Alias, KeyValue, ModelVersion, RegisteredModel};
use super::STAGES;
use crate::audit::{self, Entry};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;
use crate::time::unix_now_ms;

mod registered;
mod versions;

pub use registered::*;
pub use versions::*;

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
    /// The aliases of `models` and the tags of the `versions` shown (a model's other
    /// versions' tags are never read).
    async fn load(
        state: &AppState,
        models: &[i64],
        versions: &[(i64, i64)],
    ) -> Result<Extras, AppError> {
        let mut extras = Extras::default();
        for (model, version, key, value) in store::version_tags_of(&state.db, versions).await? {
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
            .map(|of_model| store::aliases_at(of_model, row.version))
            .unwrap_or_default();
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
    Ok(
        Extras::load(state, &[row.model], &[(row.model, row.version)])
            .await?
            .version(row),
    )
}

/// Versions as MLflow shows them, their tags and aliases read in two statements in all.
async fn versions_json(
    state: &AppState,
    rows: &[&VersionRow],
) -> Result<Vec<ModelVersion>, AppError> {
    let mut models: Vec<i64> = rows.iter().map(|v| v.model).collect();
    models.sort_unstable();
    models.dedup();
    let shown: Vec<(i64, i64)> = rows.iter().map(|v| (v.model, v.version)).collect();
    let extras = Extras::load(state, &models, &shown).await?;
    Ok(rows.iter().map(|row| extras.version(row)).collect())
}

/// Whether `version` is in one of `stages` (MLflow's names, in any case), or `stages` is
/// empty: get-latest-versions' filter.
fn in_stages(version: &VersionRow, stages: &[String]) -> bool {
    stages.is_empty()
        || stages
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&version.stage))
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
    let mut latest: HashMap<i64, Vec<VersionRow>> = HashMap::new();
    for v in store::latest_versions_of(&state.db, &ids).await? {
        latest.entry(v.model).or_default().push(v);
    }
    let mut tags: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    for (model, key, value) in store::registered_tags_of(&state.db, &ids).await? {
        tags.entry(model).or_default().push(KeyValue { key, value });
    }
    let shown: Vec<(i64, i64)> = latest
        .values()
        .flatten()
        .map(|v| (v.model, v.version))
        .collect();
    let extras = Extras::load(state, &ids, &shown).await?;
    Ok(rows
        .iter()
        .map(|row| RegisteredModel {
            name: row.name.clone(),
            creation_timestamp: row.created_ms,
            last_updated_timestamp: row.updated_ms,
            description: row.description.clone(),
            latest_versions: latest
                .get(&row.id)
                .into_iter()
                .flatten()
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
        })
        .collect())
}

/// A registered model's name as MLflow allows it here: 1 to 256 characters, without `/`
/// (the `models:/NAME/VERSION` URIs split on it); else an error naming `field`.
pub fn check_model_name(field: &str, name: &str) -> Result<(), AppError> {
    if name.trim().is_empty() || name.chars().count() > 256 || name.contains('/') {
        return Err(AppError::invalid(
            field,
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
    fn the_latest_versions_are_filtered_by_stage_in_any_case() {
        let (none, production) = (v(3, "None"), v(4, "Production"));
        assert!(in_stages(&none, &[]));
        assert!(in_stages(&production, &["production".to_string()]));
        assert!(!in_stages(&none, &["production".to_string()]));
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
