//! The MLflow REST API (server only), at Gantry's root as the client expects it:
//! `/api/2.0/mlflow/…` (tracking and registry), `/api/2.0/mlflow-artifacts/…` and
//! `/api/3.0/mlflow/server-info`. Unchanged MLflow code points `MLFLOW_TRACKING_URI` at
//! Gantry and authenticates with a Gantry API token (`MLFLOW_TRACKING_TOKEN`, or as the
//! Basic password).
//!
//! Success is HTTP 200 with a JSON object; errors are MLflow's `{"error_code", "message"}`
//! ([`MlflowError`](super::wire::MlflowError)); what the handlers share is in `request`.
//!
//! Beside it, Gantry's own JSON API for CI (errors are the JSON `AppError` with its status):
//! - `GET /api/v1/models?search=` and `GET /api/v1/models/{name}`
//! - `PUT /api/v1/models/{name}/aliases/{alias}` with `{"version": 3}`: promote a version
//! - `PUT /api/v1/models/{name}/versions/{version}/stage` with `{"stage", "archive_others"}`

use axum::routing::{any, get, post};
use axum::{Json, Router};

use super::wire::endpoint_not_found;
use super::{artifacts, registry, tracking};
use crate::state::AppState;

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    let m = |path: &str| format!("/api/2.0/mlflow/{path}");
    Router::new()
        .route("/api/3.0/mlflow/server-info", get(server_info))
        // Tracking
        .route(
            &m("experiments/get-by-name"),
            get(tracking::experiment_by_name),
        )
        .route(&m("experiments/get"), get(tracking::experiment))
        .route(&m("experiments/create"), post(tracking::create_experiment))
        .route(
            &m("experiments/search"),
            get(tracking::search_experiments).post(tracking::search_experiments),
        )
        .route(&m("runs/create"), post(tracking::create_run))
        .route(&m("runs/get"), get(tracking::run))
        .route(&m("runs/update"), post(tracking::update_run))
        .route(&m("runs/delete"), post(tracking::delete_run))
        .route(&m("runs/search"), post(tracking::search_runs))
        .route(&m("runs/log-parameter"), post(tracking::log_param))
        .route(&m("runs/log-metric"), post(tracking::log_metric))
        .route(&m("runs/log-batch"), post(tracking::log_batch))
        .route(&m("runs/set-tag"), post(tracking::set_tag))
        .route(&m("runs/delete-tag"), post(tracking::delete_tag))
        .route(&m("runs/outputs"), post(tracking::log_outputs))
        .route(&m("runs/log-inputs"), post(tracking::log_inputs))
        .route(&m("runs/log-model"), post(tracking::log_model_json))
        .route(&m("metrics/get-history"), get(tracking::metric_history))
        .route(&m("logged-models"), post(tracking::create_logged_model))
        .route(
            &m("logged-models/search"),
            post(tracking::search_logged_models),
        )
        .route(
            &m("logged-models/{model_id}"),
            get(tracking::logged_model).patch(tracking::finalize_logged_model),
        )
        .route(
            &m("logged-models/{model_id}/tags"),
            axum::routing::patch(tracking::tag_logged_model),
        )
        // Registry
        .route(&m("registered-models/create"), post(registry::create_model))
        .route(&m("registered-models/get"), get(registry::model))
        .route(&m("registered-models/search"), get(registry::search_models))
        .route(
            &m("registered-models/update"),
            axum::routing::patch(registry::update_model).post(registry::update_model),
        )
        .route(&m("registered-models/rename"), post(registry::rename_model))
        .route(
            &m("registered-models/delete"),
            axum::routing::delete(registry::delete_model),
        )
        .route(
            &m("registered-models/set-tag"),
            post(registry::set_model_tag),
        )
        .route(
            &m("registered-models/delete-tag"),
            axum::routing::delete(registry::delete_model_tag),
        )
        .route(
            &m("registered-models/get-latest-versions"),
            get(registry::latest_versions).post(registry::latest_versions),
        )
        .route(
            &m("registered-models/alias"),
            get(registry::alias)
                .post(registry::set_alias)
                .delete(registry::delete_alias),
        )
        .route(&m("model-versions/create"), post(registry::create_version))
        .route(&m("model-versions/get"), get(registry::version))
        .route(&m("model-versions/search"), get(registry::search_versions))
        .route(
            &m("model-versions/update"),
            axum::routing::patch(registry::update_version).post(registry::update_version),
        )
        .route(
            &m("model-versions/transition-stage"),
            post(registry::transition_stage),
        )
        .route(
            &m("model-versions/delete"),
            axum::routing::delete(registry::delete_version),
        )
        .route(
            &m("model-versions/set-tag"),
            post(registry::set_version_tag),
        )
        .route(
            &m("model-versions/delete-tag"),
            axum::routing::delete(registry::delete_version_tag),
        )
        .route(
            &m("model-versions/get-download-uri"),
            get(registry::download_uri),
        )
        .route(&m("{*rest}"), any(endpoint_not_found))
        // Artifacts
        .route(
            "/api/2.0/mlflow-artifacts/artifacts",
            get(artifacts_api::list),
        )
        .route(
            "/api/2.0/mlflow-artifacts/artifacts/{*path}",
            get(artifacts_api::download).put(artifacts_api::upload),
        )
        .route("/api/2.0/mlflow-artifacts/{*rest}", any(endpoint_not_found))
        // Gantry's own JSON API, for CI: list, read, promote.
        .route("/api/v1/models", get(gantry_api::list))
        .route("/api/v1/models/{name}", get(gantry_api::detail))
        .route("/api/v1/experiments", get(gantry_api::experiments))
        .route("/api/v1/experiments/{id}", get(gantry_api::experiment))
        .route("/api/v1/runs/{id}", get(gantry_api::run))
        .route(
            "/api/v1/models/{name}/aliases/{alias}",
            axum::routing::put(gantry_api::promote),
        )
        .route(
            "/api/v1/models/{name}/versions/{version}/stage",
            axum::routing::put(gantry_api::stage),
        )
}

/// Multipart uploads are off: one PUT per file, streamed (`models::artifacts`).
async fn server_info() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "artifacts_presigned_only": false,
    }))
}

/// Whether `path` is one of MLflow's, whose errors the client reads only in its own shape.
pub fn is_mlflow(path: &str) -> bool {
    path.starts_with("/api/2.0/mlflow") || path.starts_with("/api/3.0/mlflow")
}

/// Whether the request is an artifact upload: its body limit is `GANTRY_ARTIFACT_MAX_BYTES`,
/// not the 1 MiB of every other request.
pub fn is_artifact_upload(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::PUT && path.starts_with("/api/2.0/mlflow-artifacts/artifacts/")
}

mod artifacts_api {
    //! The artifact routes: upload (PUT, streamed), download (GET, streamed), list.

    use axum::extract::{Path, State};
    use axum::http::header;
    use axum::response::{IntoResponse, Response};
    use axum::Json;

    use super::artifacts::ArtifactPath;
    use crate::auth::caller::Caller;
    use crate::auth::rules::Action;
    use crate::models::request::{Params, Reply};
    use crate::models::wire::MlflowError;
    use crate::models::{store, tracking};
    use crate::state::AppState;

    /// The experiment the path is under, if the caller may `action` in its namespace.
    async fn allowed(
        state: &AppState,
        caller: &Caller,
        path: &ArtifactPath,
        action: Action,
    ) -> Result<(), MlflowError> {
        let experiment = store::experiment(&state.db, path.experiment)
            .await?
            .ok_or_else(|| tracking::no_experiment(path.experiment))?;
        caller.check(action, Some(&experiment.namespace))?;
        Ok(())
    }

    pub async fn upload(
        State(state): State<AppState>,
        caller: Caller,
        Path(path): Path<String>,
        body: axum::body::Body,
    ) -> Reply {
        let path = ArtifactPath::parse(&path)?;
        allowed(&state, &caller, &path, Action::ManageModels).await?;
        state.artifacts.put(&path, body).await?;
        Ok(Json(serde_json::json!({})))
    }

    pub async fn download(
        State(state): State<AppState>,
        caller: Caller,
        Path(path): Path<String>,
    ) -> Result<Response, MlflowError> {
        let path = ArtifactPath::parse(&path)?;
        allowed(&state, &caller, &path, Action::View).await?;
        let (size, body) = state.artifacts.get(&path).await?;
        Ok((
            // Always a download, never rendered: an uploaded HTML file must not run as a
            // page of Gantry's origin.
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::CONTENT_LENGTH, size.to_string()),
                (header::CONTENT_DISPOSITION, "attachment".to_string()),
            ],
            body,
        )
            .into_response())
    }

    pub async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> Reply {
        let path = ArtifactPath::parse(params.required("path")?)?;
        allowed(&state, &caller, &path, Action::View).await?;
        Ok(Json(match state.artifacts.list(&path).await? {
            None => serde_json::json!({}),
            Some(files) => serde_json::json!({ "files": files }),
        }))
    }
}

mod gantry_api {
    //! Gantry's JSON API over the registry, for CI: the same reads as the Models pages and the
    //! same audited changes as the MLflow API.

    use axum::extract::rejection::JsonRejection;
    use axum::extract::{Path, Query, State};
    use axum::Json;
    use serde::Deserialize;

    use crate::auth::caller::Caller;
    use crate::error::{AppError, Result};
    use crate::models::{
        registry, server, ExperimentRuns, ExperimentSummary, ModelDetail, ModelSummary, RunDetail,
    };
    use crate::state::{to_completion, AppState};

    #[derive(Deserialize, Default)]
    pub struct Search {
        #[serde(default)]
        search: String,
    }

    pub async fn list(
        State(state): State<AppState>,
        caller: Caller,
        Query(query): Query<Search>,
    ) -> Result<Json<Vec<ModelSummary>>> {
        server::list(&state, &caller, &query.search).await.map(Json)
    }

    pub async fn detail(
        State(state): State<AppState>,
        caller: Caller,
        Path(name): Path<String>,
    ) -> Result<Json<ModelDetail>> {
        server::detail(&state, &caller, &name).await.map(Json)
    }

    pub async fn experiments(
        State(state): State<AppState>,
        caller: Caller,
        Query(query): Query<Search>,
    ) -> Result<Json<Vec<ExperimentSummary>>> {
        server::experiments(&state, &caller, &query.search)
            .await
            .map(Json)
    }

    pub async fn experiment(
        State(state): State<AppState>,
        caller: Caller,
        Path(id): Path<String>,
    ) -> Result<Json<ExperimentRuns>> {
        server::experiment(&state, &caller, &id).await.map(Json)
    }

    pub async fn run(
        State(state): State<AppState>,
        caller: Caller,
        Path(id): Path<String>,
    ) -> Result<Json<RunDetail>> {
        server::run(&state, &caller, &id).await.map(Json)
    }

    #[derive(Deserialize)]
    pub struct Promote {
        version: i64,
    }

    /// Points the alias at the version and answers the model as it now is.
    pub async fn promote(
        State(state): State<AppState>,
        caller: Caller,
        Path((name, alias)): Path<(String, String)>,
        body: std::result::Result<Json<Promote>, JsonRejection>,
    ) -> Result<Json<ModelDetail>> {
        let Json(body) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
        let (for_change, who) = (state.clone(), caller.clone());
        let model = name.clone();
        to_completion(async move {
            registry::point_alias(&for_change, &who, &model, &alias, &body.version.to_string())
                .await
        })
        .await?;
        server::detail(&state, &caller, &name).await.map(Json)
    }

    #[derive(Deserialize)]
    pub struct Stage {
        stage: String,
        #[serde(default)]
        archive_others: bool,
    }

    /// Moves the version to the stage and answers the model as it now is.
    pub async fn stage(
        State(state): State<AppState>,
        caller: Caller,
        Path((name, version)): Path<(String, String)>,
        body: std::result::Result<Json<Stage>, JsonRejection>,
    ) -> Result<Json<ModelDetail>> {
        let Json(body) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
        let (for_change, who) = (state.clone(), caller.clone());
        let model = name.clone();
        to_completion(async move {
            registry::move_stage(
                &for_change,
                &who,
                &model,
                &version,
                &body.stage,
                body.archive_others,
            )
            .await
        })
        .await?;
        server::detail(&state, &caller, &name).await.map(Json)
    }
}
