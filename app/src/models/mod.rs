//! Models: the registry of trained models and the experiment tracking behind it, served to
//! unchanged MLflow code (`../shared/notes/mlflow.md` has the client's contract) and shown
//! in the Models area.
//!
//! `wire` (MLflow's JSON and error codes), `filter` (the search filters' grammar, pure),
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
pub mod filter;
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
