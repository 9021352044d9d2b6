//! The Serving area's JSON API and live streams (server only): session or
//! `Authorization: Bearer` token; errors are the JSON `AppError` with its status.
//!
//! - `GET /api/v1/services?page=N` (0-based pages of `PAGE_SIZE`, with the `total`) and
//!   its stream
//! - `GET /api/v1/services/{kind}/{namespace}/{name}` and its stream
//! - `POST /api/v1/services/{kind}/{namespace}/{name}/scale` with
//!   `{"replicas": N, "generation": G}` (the `metadata.generation` the change is based on):
//!   204, or 409 when the service's spec changed since
//! - `POST /api/v1/services/{kind}/{namespace}/{name}/rollback` with
//!   `{"to_revision": N, "generation": G}` (0: the revision before the current; an
//!   InferenceService goes back to its previous model): `{"to": …, "changed": …}`, or 409
//! - `PUT /api/v1/services/{kind}/{namespace}/{name}/autoscaling` with
//!   `{"min": N, "max": M, "goal": {"metric": "cpu", "value": 80}, "based_on": B}` (`based_on`
//!   as the service's `autoscaling_basis` says: an InferenceService's generation, a
//!   Deployment's HPA's fingerprint, `""` to create one): `{"done": …}`, or 409
//! - `DELETE /api/v1/services/deployment/{namespace}/{name}/autoscaling` with
//!   `{"based_on": B}`: the HPA deleted, `{"done": …}`, or 409
//! - `POST /api/v1/services/{kind}/{namespace}/{name}/rollout` with
//!   `{"to": MODEL, "generation": G, "dry_run": false}` (`dry_run` true: the API server's
//!   dry run, nothing stored): `{"field", "from", "to", "changed"}`, or 409
//! - `POST /api/v1/services/inferenceservice/{namespace}/{name}/canary` with
//!   `{"action": "start", "to": MODEL, "percent": P, "generation": G}`, or `"promote"` /
//!   `"abort"` with the generation: `{"done": …}`, or 409 (no canary, or a mode where
//!   KServe does not split traffic); a Deployment's is refused (400 on `kind`, saying what
//!   is possible without a mesh)
//! - `GET /api/v1/services/served/{model}`: where the registered model's versions served,
//!   `{"model", "namespace", "times": [{"version", "model", "kind", "namespace", "name",
//!   "since", "until"}]}`

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::actions::{self, RolledBack};
use super::stream::{ServiceFeed, ServicesFeed};
use super::{
    autoscale, canary, rollout, served, server, AutoscalingChange, CanaryAction, ModelChange,
    ServiceDetail, ServiceKind, ServiceList, WhereServed,
};
use crate::auth::caller::Caller;
use crate::error::{AppError, Result};
use crate::live;
use crate::state::{to_completion, AppState};

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/services", get(list))
        .route("/api/v1/services/stream", get(list_stream))
        .route("/api/v1/services/served/{model}", get(where_served))
        .route("/api/v1/services/{kind}/{namespace}/{name}", get(detail))
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/stream",
            get(detail_stream),
        )
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/scale",
            post(scale),
        )
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/rollback",
            post(roll_back),
        )
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/rollout",
            post(roll_out),
        )
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/canary",
            post(set_canary),
        )
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/autoscaling",
            put(set_autoscaling).delete(remove_autoscaling),
        )
}

/// Which page of the list: `?page=N`, 0-based.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    page: usize,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<ServiceList>> {
    server::list(&state, &caller, query.page).await.map(Json)
}

async fn list_stream(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Response {
    live::serve(ServicesFeed::new(query.page), state, caller).await
}

async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<ServiceDetail>> {
    let kind = ServiceKind::from_slug(&kind)?;
    server::detail(&state, &caller, kind, &namespace, &name)
        .await
        .map(Json)
}

async fn where_served(
    State(state): State<AppState>,
    caller: Caller,
    Path(model): Path<String>,
) -> Result<Json<WhereServed>> {
    served::served(&state, &caller, &model).await.map(Json)
}

async fn detail_stream(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Response {
    match ServiceKind::from_slug(&kind) {
        Ok(kind) => live::serve(ServiceFeed::new(kind, namespace, name), state, caller).await,
        Err(error) => axum::response::IntoResponse::into_response(error),
    }
}

/// A scale request's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleBody {
    replicas: i32,
    generation: i64,
}

async fn scale(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    body: std::result::Result<Json<ScaleBody>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(body) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    let kind = ServiceKind::from_slug(&kind)?;
    to_completion(async move {
        actions::scale(
            &state,
            &caller,
            kind,
            &namespace,
            &name,
            body.replicas,
            body.generation,
        )
        .await
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A rollback request's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    #[serde(default)]
    to_revision: i64,
    generation: i64,
}

async fn roll_back(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    body: std::result::Result<Json<RollbackBody>, JsonRejection>,
) -> Result<Json<RolledBack>> {
    let Json(body) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    let kind = ServiceKind::from_slug(&kind)?;
    to_completion(async move {
        actions::roll_back(
            &state,
            &caller,
            kind,
            &namespace,
            &name,
            body.to_revision,
            body.generation,
        )
        .await
    })
    .await
    .map(Json)
}

/// A canary request's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CanaryBody {
    action: CanaryAction,
    #[serde(default)]
    to: String,
    #[serde(default)]
    percent: i64,
    generation: i64,
}

async fn set_canary(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    body: std::result::Result<Json<CanaryBody>, JsonRejection>,
) -> Result<Json<Done>> {
    let Json(body) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    if ServiceKind::from_slug(&kind)? == ServiceKind::Deployment {
        return Err(AppError::invalid("kind", super::CANARY_WITHOUT_A_MESH));
    }
    to_completion(async move {
        canary::change(
            &state,
            &caller,
            &namespace,
            &name,
            body.action,
            &body.to,
            body.percent,
            body.generation,
        )
        .await
    })
    .await
    .map(|done| Json(Done { done }))
}

/// A rollout request's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloutBody {
    to: String,
    generation: i64,
    #[serde(default)]
    dry_run: bool,
}

async fn roll_out(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    body: std::result::Result<Json<RolloutBody>, JsonRejection>,
) -> Result<Json<ModelChange>> {
    let Json(body) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    let kind = ServiceKind::from_slug(&kind)?;
    to_completion(async move {
        rollout::roll_out(
            &state,
            &caller,
            kind,
            &namespace,
            &name,
            &body.to,
            body.generation,
            body.dry_run,
        )
        .await
    })
    .await
    .map(Json)
}

/// What an autoscaling change did, in words.
#[derive(serde::Serialize)]
struct Done {
    done: String,
}

async fn set_autoscaling(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    body: std::result::Result<Json<AutoscalingChange>, JsonRejection>,
) -> Result<Json<Done>> {
    let Json(change) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    let kind = ServiceKind::from_slug(&kind)?;
    to_completion(
        async move { autoscale::set(&state, &caller, kind, &namespace, &name, &change).await },
    )
    .await
    .map(|done| Json(Done { done }))
}

/// An autoscaling removal's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveBody {
    based_on: String,
}

async fn remove_autoscaling(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    body: std::result::Result<Json<RemoveBody>, JsonRejection>,
) -> Result<Json<Done>> {
    let Json(body) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    let kind = ServiceKind::from_slug(&kind)?;
    to_completion(async move {
        autoscale::remove(&state, &caller, kind, &namespace, &name, &body.based_on).await
    })
    .await
    .map(|done| Json(Done { done }))
}
