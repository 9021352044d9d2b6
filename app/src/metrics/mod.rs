//! Metrics: GPU utilisation, memory, power and temperature from Prometheus (NVIDIA DCGM
//! exporter's series), charted for what the user is already looking at.
//!
//! `promql` writes the queries (label values escaped, never user text), `prom` asks
//! Prometheus (deadline, one query per (query, range, step) however many ask, the exporter's
//! label set detected), `svg` draws the charts, `server` answers as the user, `api` routes the
//! JSON and SVG URLs, `pages` shows them on the node page.

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

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Most points one series may have: Prometheus refuses above 11,000, and a chart a few
/// hundred pixels wide shows no more.
pub const MAX_POINTS: u64 = 600;
/// The shortest step: the local cluster scrapes every 5 s, dcgm-exporter collects every 30 s
/// by default; finer steps only repeat samples.
pub const MIN_STEP_SECS: u64 = 15;

/// A time range the charts show, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Span {
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "6h")]
    H6,
    #[serde(rename = "24h")]
    H24,
    #[serde(rename = "7d")]
    D7,
}

impl Span {
    pub const ALL: [Span; 5] = [Span::M15, Span::H1, Span::H6, Span::H24, Span::D7];

    /// How the picker and the URLs name it.
    pub fn name(self) -> &'static str {
        match self {
            Span::M15 => "15m",
            Span::H1 => "1h",
            Span::H6 => "6h",
            Span::H24 => "24h",
            Span::D7 => "7d",
        }
    }

    /// The `range` parameter; a missing one means the last hour.
    pub fn parse(text: Option<&str>) -> Result<Span, crate::error::AppError> {
        match text.filter(|t| !t.is_empty()) {
            None => Ok(Span::H1),
            Some(t) => Span::ALL
                .into_iter()
                .find(|s| s.name() == t)
                .ok_or_else(|| {
                    crate::error::AppError::invalid(
                        "range",
                        "expected one of 15m, 1h, 6h, 24h or 7d".to_string(),
                    )
                }),
        }
    }

    pub fn seconds(self) -> u64 {
        match self {
            Span::M15 => 15 * 60,
            Span::H1 => 3600,
            Span::H6 => 6 * 3600,
            Span::H24 => 24 * 3600,
            Span::D7 => 7 * 24 * 3600,
        }
    }

    /// The step that gives at most [`MAX_POINTS`] points, a multiple of [`MIN_STEP_SECS`].
    pub fn step_secs(self) -> u64 {
        let step = self.seconds().div_ceil(MAX_POINTS);
        step.div_ceil(MIN_STEP_SECS) * MIN_STEP_SECS
    }

    /// The (start, end) a chart over this span shows at `now` (seconds since the epoch): end
    /// on the last whole step, so that everyone within one step asks the same query.
    pub fn window(self, now: i64) -> (i64, i64) {
        let end = now - now.rem_euclid(self.step_secs() as i64);
        (end - self.seconds() as i64, end)
    }
}

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

/// A node's charts for one range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeMetrics {
    pub node: String,
    pub range: Span,
    pub step_secs: u64,
    /// The window the series cover, in seconds since the epoch (the charts draw this one).
    pub start: i64,
    pub end: i64,
    /// `None` when Prometheus is not configured: the page says so instead of charts.
    pub charts: Option<Vec<Chart>>,
    /// Which of dcgm-exporter's label sets the series carry (`Hostname` or `hostname`), once
    /// known.
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
    pub alerts: Vec<Alert>,
    pub error: Option<String>,
}

/// Firing and pending alerts, about `node` only when one is given.
#[server(endpoint = "metrics/alerts")]
pub async fn get_alerts(node: Option<String>) -> Result<Alerts, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::alerts(&state, &caller, node.as_deref()).await
}

/// A node's charts as its page shows them: the data (for the numbers tables) and each chart
/// drawn, in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeChartsView {
    pub metrics: NodeMetrics,
    pub svgs: Vec<String>,
}

/// The node page's charts over `range` (`15m`, `1h`, `6h`, `24h`, `7d`).
#[server(endpoint = "nodes/metrics")]
pub async fn get_node_charts(name: String, range: String) -> Result<NodeChartsView, AppError> {
    use crate::auth::rules::Action;

    let (state, caller) = crate::state::caller(Action::View, None)?;
    let span = Span::parse(Some(&range))?;
    let metrics = server::node_metrics(&state, &caller, &name, span, None).await?;
    let (start, end) = (metrics.start, metrics.end);
    let svgs = metrics
        .charts
        .iter()
        .flatten()
        .map(|chart| match chart.error {
            None => svg::render(chart, start, end, svg::Look::Inline),
            Some(_) => String::new(),
        })
        .collect();
    Ok(NodeChartsView { metrics, svgs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_every_range_at_600_points_or_fewer() {
        for span in Span::ALL {
            let step = span.step_secs();
            assert!(span.seconds() / step <= MAX_POINTS, "{span:?}");
            assert_eq!(step % MIN_STEP_SECS, 0);
        }
        assert_eq!(Span::M15.step_secs(), 15);
        assert_eq!(Span::D7.step_secs(), 1020);
        assert_eq!(
            Span::H1.window(1_795_000_007),
            (1_794_996_405, 1_795_000_005)
        );
        assert_eq!(Span::parse(None).unwrap(), Span::H1);
        assert!(Span::parse(Some("1y")).is_err());
    }
}
