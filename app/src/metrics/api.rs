//! The metrics JSON API and chart images (server only), as the user: session or
//! `Authorization: Bearer` token, errors as the JSON `AppError`.
//!
//! - `GET /api/v1/nodes/{name}/metrics?range=1h`: the node's charts as data
//! - `GET /api/v1/gpu-idle`: pods holding GPUs they have not used (the overview's table)
//! - `GET /api/v1/alerts?node=`: firing and pending alerts, about one node if given
//! - `GET /api/v1/nodes/{name}/metrics/{chart}.svg?range=1h&theme=light|dark`: one chart as
//!   a standalone SVG, for portals (the same auth and frame rules as every page)

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::svg::{self, Look};
use super::{server, Alerts, IdleGpus, NodeMetrics, Span};
use crate::auth::caller::Caller;
use crate::error::{AppError, Result};
use crate::state::AppState;

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nodes/{name}/metrics", get(node))
        .route("/api/v1/nodes/{name}/metrics/{file}", get(node_chart))
        .route("/api/v1/gpu-idle", get(idle))
        .route("/api/v1/alerts", get(alerts))
}

#[derive(Deserialize)]
struct AlertParams {
    node: Option<String>,
}

async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AlertParams>,
) -> Result<Json<Alerts>> {
    let node = params.node.filter(|n| !n.is_empty());
    server::alerts(&state, &caller, node.as_deref())
        .await
        .map(Json)
}

async fn idle(State(state): State<AppState>, caller: Caller) -> Result<Json<IdleGpus>> {
    server::idle_gpus(&state, &caller).await.map(Json)
}

#[derive(Deserialize)]
struct Params {
    range: Option<String>,
    theme: Option<String>,
}

async fn node(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<NodeMetrics>> {
    let span = Span::parse(params.range.as_deref())?;
    server::node_metrics(&state, &caller, &name, span, None)
        .await
        .map(Json)
}

async fn node_chart(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, file)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Response> {
    let span = Span::parse(params.range.as_deref())?;
    let id = file
        .strip_suffix(".svg")
        .ok_or_else(|| AppError::not_found(format!("chart {file:?}")))?;
    // Only the chart asked for is queried: an embedded chart costs one query, not four.
    let metrics = server::node_metrics(&state, &caller, &name, span, Some(id)).await?;
    let Some(charts) = metrics.charts else {
        return Err(AppError::unavailable(
            "Prometheus",
            "Prometheus is not configured",
        ));
    };
    let chart = charts
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::not_found(format!("chart {id:?}")))?;
    if let Some(reason) = chart.error {
        return Err(AppError::unavailable("Prometheus", reason));
    }
    let (start, end) = (metrics.start, metrics.end);
    let look = match Look::parse(params.theme.as_deref()) {
        Look::Inline => Look::Light,
        look => look,
    };
    let body = svg::render(&chart, start, end, look);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], body).into_response())
}
