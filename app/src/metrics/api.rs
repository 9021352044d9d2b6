//! The metrics JSON API and chart images (server only), as the user: session or
//! `Authorization: Bearer` token, errors as the JSON `AppError`. Every range parameter is
//! `range=15m|1h|6h|24h|7d` or `from=&to=` (seconds since 1970 or `YYYY-MM-DDTHH:MM`, UTC);
//! a job's also `range=run`, its default.
//!
//! - `GET /api/v1/nodes/{name}/metrics`: the node's charts as data
//! - `GET /api/v1/jobs/{namespace}/{name}/metrics`: the job's pods' GPUs as data
//! - `GET /api/v1/fleet/metrics`: the fleet's GPUs, allocated and busy
//! - `GET /api/v1/services/{kind}/{namespace}/{name}/metrics`: a serving workload's
//!   requests, latency, errors and replicas serving
//! - `GET /api/v1/gpu-idle`: pods holding GPUs they have not used (the overview's table)
//! - `GET /api/v1/alerts?node=` or `?namespace=&job=`: firing and pending alerts
//! - `GET …/metrics/{chart}.svg?theme=light|dark` (node, job, service): one chart as a standalone
//!   SVG, for portals (the same auth and frame rules as every page)

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::svg::{self, Look};
use super::{server, Alerts, AlertsAbout, IdleGpus, Metrics, Range, Span};
use crate::auth::caller::Caller;
use crate::error::{AppError, Result};
use crate::serving::ServiceKind;
use crate::state::AppState;

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nodes/{name}/metrics", get(node))
        .route("/api/v1/nodes/{name}/metrics/{file}", get(node_chart))
        .route("/api/v1/jobs/{namespace}/{name}/metrics", get(job))
        .route(
            "/api/v1/jobs/{namespace}/{name}/metrics/{file}",
            get(job_chart),
        )
        .route("/api/v1/fleet/metrics", get(fleet))
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/metrics",
            get(service),
        )
        .route(
            "/api/v1/services/{kind}/{namespace}/{name}/metrics/{file}",
            get(service_chart),
        )
        .route("/api/v1/gpu-idle", get(idle))
        .route("/api/v1/alerts", get(alerts))
}

#[derive(Deserialize)]
struct AlertParams {
    #[serde(default)]
    node: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    job: String,
}

async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AlertParams>,
) -> Result<Json<Alerts>> {
    let about = match (params.node, params.namespace, params.job) {
        (node, ns, job) if node.is_empty() && ns.is_empty() && job.is_empty() => AlertsAbout::All,
        (node, ns, job) if ns.is_empty() && job.is_empty() => AlertsAbout::Node(node),
        (node, namespace, name) if node.is_empty() => AlertsAbout::Job { namespace, name },
        _ => {
            return Err(AppError::invalid(
                "node",
                "give a node, or a namespace and a job, not both",
            ))
        }
    };
    server::alerts(&state, &caller, &about).await.map(Json)
}

async fn idle(State(state): State<AppState>, caller: Caller) -> Result<Json<IdleGpus>> {
    server::idle_gpus(&state, &caller).await.map(Json)
}

#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    range: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    theme: Option<String>,
}

impl Params {
    fn range(&self, run_allowed: bool, default: Range) -> Result<Range> {
        Range::parse(&self.range, &self.from, &self.to, run_allowed, default)
    }
}

async fn node(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<Metrics>> {
    let range = params.range(false, Range::Last(Span::H1))?;
    server::node_metrics(&state, &caller, &name, range, None)
        .await
        .map(Json)
}

async fn job(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Metrics>> {
    let range = params.range(true, Range::Run)?;
    server::job_metrics(&state, &caller, &namespace, &name, range, None)
        .await
        .map(Json)
}

async fn service(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Metrics>> {
    let range = params.range(false, Range::Last(Span::H1))?;
    let kind = ServiceKind::from_slug(&kind)?;
    server::service_metrics(&state, &caller, kind, &namespace, &name, range, None)
        .await
        .map(Json)
}

async fn fleet(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<Params>,
) -> Result<Json<Metrics>> {
    let range = params.range(false, Range::Last(Span::H6))?;
    server::fleet_metrics(&state, &caller, range)
        .await
        .map(Json)
}

/// The chart id in `file` (`utilisation.svg`).
fn chart_id(file: &str) -> Result<&str> {
    file.strip_suffix(".svg")
        .ok_or_else(|| AppError::not_found(format!("chart {file:?}")))
}

async fn node_chart(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, file)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Response> {
    let range = params.range(false, Range::Last(Span::H1))?;
    let id = chart_id(&file)?;
    // Only the chart asked for is queried: an embedded chart costs one query, not four.
    let metrics = server::node_metrics(&state, &caller, &name, range, Some(id)).await?;
    chart_image(metrics, id, params.theme.as_deref())
}

async fn job_chart(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, file)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Response> {
    let range = params.range(true, Range::Run)?;
    let id = chart_id(&file)?;
    let metrics = server::job_metrics(&state, &caller, &namespace, &name, range, Some(id)).await?;
    chart_image(metrics, id, params.theme.as_deref())
}

async fn service_chart(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name, file)): Path<(String, String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Response> {
    let range = params.range(false, Range::Last(Span::H1))?;
    let kind = ServiceKind::from_slug(&kind)?;
    let id = chart_id(&file)?;
    let metrics =
        server::service_metrics(&state, &caller, kind, &namespace, &name, range, Some(id)).await?;
    chart_image(metrics, id, params.theme.as_deref())
}

/// The chart `id` of `metrics` as a standalone SVG in the light or dark theme.
fn chart_image(metrics: Metrics, id: &str, theme: Option<&str>) -> Result<Response> {
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
    let look = match Look::parse(theme) {
        Look::Inline => Look::Light,
        look => look,
    };
    let body = svg::render(&chart, metrics.start, metrics.end, look);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], body).into_response())
}
