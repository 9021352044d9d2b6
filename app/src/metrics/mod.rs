//! Metrics: GPU utilisation, memory, power and temperature from Prometheus (NVIDIA DCGM
//! exporter's series), and a model server's requests, latency and errors, charted for what
//! the user is already looking at: a node, a job, the fleet, a serving workload.
//!
//! `window` turns the picked range into what Prometheus is asked for, `promql` writes the
//! queries (label values escaped, never user text), `prom` asks Prometheus (deadline, one
//! query per (query, range, step) however many ask, the exporter's label set detected),
//! `svg` draws the charts, `server` answers as the user, `api` routes the JSON and SVG URLs,
//! `pages` shows them.

#[cfg(feature = "ssr")]
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod prom;
#[cfg(feature = "ssr")]
pub mod promql;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod svg;
pub mod window;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
pub use window::{Range, Span, Window};

/// A chart's size in SVG units (the page scales it to its column), and where its plot area
/// begins and ends across: `svg` draws it so, and the pages' hover readout maps the pointer
/// back to a time with them.
pub const CHART_SIZE: (u32, u32) = (720, 260);
pub const CHART_MARGIN: u32 = 8;
pub const PLOT_LEFT: u32 = 64;
pub const PLOT_RIGHT: u32 = CHART_SIZE.0 - CHART_MARGIN;

/// One line of a chart: its name (e.g. "GPU 3") and its (seconds since the epoch, value)
/// points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, f64)>,
}

/// One chart's data, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// In URLs: `/api/v1/nodes/{name}/metrics/{id}.svg`.
    pub id: String,
    pub title: String,
    pub unit: String,
    pub series: Vec<Series>,
    /// Prometheus failed or was too slow for this chart: the reason, shown in its place.
    pub error: Option<String>,
}

/// The charts of one thing (a node, a job, the fleet) over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// What they are about: a node's name, `namespace/job`, or `fleet`.
    pub subject: String,
    /// As picked: `15m` … `7d`, `custom`, or `run` (a job's run).
    pub range: String,
    pub step_secs: u64,
    /// The window the series cover, in seconds since the epoch (the charts draw this one).
    pub start: i64,
    pub end: i64,
    /// `None` when Prometheus is not configured: the page says so instead of charts.
    pub charts: Option<Vec<Chart>>,
    /// What the series are read from: which of dcgm-exporter's label sets they carry, or a
    /// model server's metric names; once known.
    pub dialect: Option<String>,
}

/// A pod holding GPUs it has not used (see `promql::idle_gpus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdlePod {
    pub namespace: String,
    pub pod: String,
    /// `Job/llama-finetune`, `ReplicaSet/…`, when the inventory knows the pod's controller.
    pub owner: Option<String>,
    pub node: String,
    pub gpus: u32,
    /// The highest utilisation any of its GPUs reached in the window.
    pub busiest_percent: f64,
    /// GPUs × the window: a lower bound (each was idle at least that long).
    pub idle_gpu_hours: f64,
}

/// The overview's "allocated but idle" table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleGpus {
    /// False when Prometheus is not configured.
    pub configured: bool,
    pub percent: u32,
    pub minutes: u32,
    /// Most idle GPU-hours first; only pods in namespaces the caller may list pods in.
    pub rows: Vec<IdlePod>,
    /// Idle pods in namespaces the caller may not see: counted, never named.
    pub hidden: usize,
    pub error: Option<String>,
}

/// The "allocated but idle" table, as the caller may see it.
#[server(endpoint = "metrics/idle")]
pub async fn get_idle_gpus() -> Result<IdleGpus, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::idle_gpus(&state, &caller).await
}

/// A firing or pending alert from Prometheus, with what it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub name: String,
    /// `firing` or `pending`.
    pub state: String,
    pub severity: String,
    pub summary: String,
    /// The node it is about (its `Hostname` or `hostname` label), if any.
    pub node: Option<String>,
    /// The namespace and pod it is about, if any.
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// When it became active, as the pages write times.
    pub since: String,
}

/// The alerts the caller may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alerts {
    /// False when Prometheus is not configured.
    pub configured: bool,
    /// When Prometheus was asked (seconds since the epoch; 0 when not configured): of two
    /// lists on one page, the older is asked again (`pages::alerts::AlertsSeen`).
    pub asked: u64,
    pub alerts: Vec<Alert>,
    pub error: Option<String>,
}

/// What a list of alerts is about: everything the caller may see, a node, or a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertsAbout {
    All,
    Node(String),
    Job { namespace: String, name: String },
}

/// Firing and pending alerts, about `about` only.
#[server(endpoint = "metrics/alerts", input = server_fn::codec::Json)]
pub async fn get_alerts(about: AlertsAbout) -> Result<Alerts, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::alerts(&state, &caller, &about).await
}

/// Charts as a page shows them: the data (for the numbers tables and the hover readout) and
/// each chart drawn, in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartsView {
    pub metrics: Metrics,
    pub svgs: Vec<String>,
}

/// The node page's charts over `range` (`15m` … `7d`, or `from`–`to`).
#[server(endpoint = "nodes/metrics")]
pub async fn get_node_charts(
    name: String,
    range: String,
    from: String,
    to: String,
) -> Result<ChartsView, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, None)?;
    let range = Range::parse(&range, &from, &to, false, Range::Last(Span::H1))?;
    let metrics = server::node_metrics(&state, &caller, &name, range, None).await?;
    Ok(svg::inline(metrics))
}

/// A job's charts over `range` (`run` for its whole run, `15m` … `7d`, or `from`–`to`).
#[server(endpoint = "jobs/metrics")]
pub async fn get_job_charts(
    namespace: String,
    name: String,
    range: String,
    from: String,
    to: String,
) -> Result<ChartsView, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, Some(&namespace))?;
    let range = Range::parse(&range, &from, &to, true, Range::Run)?;
    let metrics = server::job_metrics(&state, &caller, &namespace, &name, range, None).await?;
    Ok(svg::inline(metrics))
}

/// A serving workload's traffic charts over `range` (`15m` … `7d`, or `from`–`to`); `kind`
/// as in its URL (`deployment`, `inferenceservice`).
#[server(endpoint = "serving/metrics")]
pub async fn get_service_charts(
    kind: String,
    namespace: String,
    name: String,
    range: String,
    from: String,
    to: String,
) -> Result<ChartsView, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, Some(&namespace))?;
    let kind = crate::serving::ServiceKind::from_slug(&kind)?;
    let range = Range::parse(&range, &from, &to, false, Range::Last(Span::H1))?;
    let metrics =
        server::service_metrics(&state, &caller, kind, &namespace, &name, range, None).await?;
    Ok(svg::inline(metrics))
}

/// The overview's fleet chart: GPUs, allocated and busy, over `range` (or `from`–`to`).
#[server(endpoint = "metrics/fleet")]
pub async fn get_fleet_chart(
    range: String,
    from: String,
    to: String,
) -> Result<ChartsView, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, None)?;
    let range = Range::parse(&range, &from, &to, false, Range::Last(Span::H6))?;
    let metrics = server::fleet_metrics(&state, &caller, range).await?;
    Ok(svg::inline(metrics))
}
