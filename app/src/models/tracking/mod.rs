//! Experiment tracking as MLflow's client does it (server only): experiments, runs with their
//! params, metrics, tags, inputs and outputs, and MLflow 3's logged models.
//!
//! Every run and logged model is reached through its experiment, whose namespace decides
//! who may read (any role allowed there) and write (data scientists and ops admins).
//!
//! Here: the limits and checks both share, and experiments; `runs`, `search` (runs/search)
//! and `logged` (logged models) hold the rest, and `job_runs` the runs Gantry creates for
//! the jobs it launches.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::filter::{Filter, Subjects};
use super::request::{namespace_for, numeric_id, offset, page_size, Body, Params, Reply, RunRef};
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
use crate::time::unix_now_ms;

pub mod job_runs;
mod logged;
mod runs;
mod search;

pub use logged::*;
pub use runs::*;
pub use search::*;

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
    let created =
        store::create_experiment(tx.conn(), name, &namespace, &body.tags, unix_now_ms()).await;
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
