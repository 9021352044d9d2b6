//! The jobs area's JSON API and live streams (server only): session or
//! `Authorization: Bearer` token; errors are the JSON `AppError` with its status.
//!
//! - `GET /api/v1/jobs` (the list's filters as query parameters) and its stream
//! - `POST /api/v1/jobs` (a `JobForm` as JSON; 400 with every field's problem)
//! - `GET` and `DELETE /api/v1/jobs/{namespace}/{name}`, and the job's own stream
//! - `GET /api/v1/jobs/{namespace}/{name}/logs` (a stream) and `logs.txt`

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

use super::form::JobForm;
use super::stream::{JobFeed, JobsFeed};
use super::{actions, logs, server, JobDetail, JobFilter, JobRow};
use crate::auth::caller::Caller;
use crate::error::{AppError, Result};
use crate::live;
use crate::state::{to_completion, AppState};

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list).post(create))
        .route("/api/v1/jobs/stream", get(list_stream))
        .route(
            "/api/v1/jobs/{namespace}/{name}",
            get(detail).delete(cancel),
        )
        .route("/api/v1/jobs/{namespace}/{name}/stream", get(detail_stream))
        .route("/api/v1/jobs/{namespace}/{name}/logs", get(logs::stream))
        .route(
            "/api/v1/jobs/{namespace}/{name}/logs.txt",
            get(logs::download),
        )
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<JobFilter>,
) -> Result<Json<Vec<JobRow>>> {
    server::list(&state, &caller, &filter).await.map(Json)
}

async fn list_stream(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<JobFilter>,
) -> Response {
    live::serve(JobsFeed::new(filter), state, caller).await
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: std::result::Result<Json<JobForm>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let Json(form) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    let job = to_completion(async move { actions::launch(&state, &caller, form).await }).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "namespace": job.namespace, "name": job.name, "uid": job.uid })),
    ))
}

async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<JobDetail>> {
    server::detail(&state, &caller, &namespace, &name)
        .await
        .map(Json)
}

async fn detail_stream(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    live::serve(JobFeed::new(namespace, name), state, caller).await
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    to_completion(async move { actions::cancel(&state, &caller, &namespace, &name).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}
