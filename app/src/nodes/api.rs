//! The nodes area's JSON API and live streams (server only), for scripts, dashboards and the
//! pages: session or `Authorization: Bearer` token; errors are the JSON `AppError` with its
//! status.
//!
//! - `GET /api/v1/gpu-nodes` (the table's filters as query parameters) and its stream
//! - `GET /api/v1/gpu-nodes/{name}` (one node in full) and its stream
//! - `GET /api/v1/gpu-summary` (the overview) and its stream

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

use super::stream::{NodeFeed, NodesFeed, SummaryFeed};
use super::{server, GpuSummary, NodeDetail, NodeFilter, NodePage};
use crate::auth::caller::Caller;
use crate::error::Result;
use crate::live;
use crate::state::AppState;

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/gpu-nodes", get(nodes))
        .route("/api/v1/gpu-nodes/stream", get(nodes_stream))
        .route("/api/v1/gpu-nodes/{name}", get(node))
        .route("/api/v1/gpu-nodes/{name}/stream", get(node_stream))
        .route("/api/v1/gpu-summary", get(summary))
        .route("/api/v1/gpu-summary/stream", get(summary_stream))
}

async fn nodes(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<NodeFilter>,
) -> Result<Json<NodePage>> {
    server::check_visible(&state, &caller).await?;
    server::page(&state, &filter).map(Json)
}

async fn nodes_stream(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<NodeFilter>,
) -> Response {
    live::serve(NodesFeed::new(filter), state, caller).await
}

async fn node(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<NodeDetail>> {
    server::detail(&state, &caller, &name).await.map(Json)
}

async fn node_stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Response {
    live::serve(NodeFeed::new(name), state, caller).await
}

async fn summary(State(state): State<AppState>, caller: Caller) -> Result<Json<GpuSummary>> {
    server::summary(&state, &caller).await.map(Json)
}

async fn summary_stream(State(state): State<AppState>, caller: Caller) -> Response {
    live::serve(SummaryFeed::default(), state, caller).await
}
