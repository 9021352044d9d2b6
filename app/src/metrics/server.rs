//! The metrics answers as the user (server only): the caller must be allowed to see what the
//! charts are about (nodes; a job and its pods) before anything is asked of Prometheus, and
//! what they are about must exist.

use futures::future::join_all;

use super::prom::Prometheus;
use super::promql::{self, NodeChart};
use super::window::{MAX_CUSTOM_SECS, MIN_CUSTOM_SECS};
use super::{Alert, Alerts, AlertsAbout, Chart, IdleGpus, IdlePod, Metrics, Range, Window};
use crate::auth::caller::Caller;
use crate::error::AppError;
use crate::serving::ServiceKind;
use crate::state::AppState;

fn now() -> i64 {
    crate::time::unix_now() as i64
}

/// The window of a range that ends now or is custom (a job's run is the jobs' to say).
fn window_of(range: Range, now: i64) -> Window {
    match range {
        Range::Last(span) => Window::last(span, now),
        Range::Between(from, to) => Window::between(from, to),
        Range::Run => Window::last(super::Span::H1, now),
    }
}

/// Metrics over `window` with no charts yet.
fn empty(subject: String, range: Range, window: Window) -> Metrics {
    Metrics {
        subject,
        range: range.name().to_string(),
        step_secs: window.step_secs,
        start: window.start,
        end: window.end,
        charts: None,
        dialect: None,
    }
}

/// Refuses a chart id that is not one of `ids` before anything is asked.
fn check_chart(only: Option<&str>, ids: &[&str]) -> Result<(), AppError> {
    match only {
        Some(id) if !ids.contains(&id) => Err(AppError::not_found(format!("chart {id:?}"))),
        _ => Ok(()),
    }
}

/// `metrics` with `charts` (only the one with id `only`, when given) over its window,
/// queried together, each with its series or why it has none; `source` says what they read.
async fn draw(
    mut metrics: Metrics,
    prometheus: &Prometheus,
    source: String,
    charts: Vec<NodeChart>,
    only: Option<&str>,
) -> Metrics {
    let window = Window {
        start: metrics.start,
        end: metrics.end,
        step_secs: metrics.step_secs,
    };
    let charts = charts
        .into_iter()
        .filter(|c| only.is_none_or(|id| c.id == id));
    let drawn = join_all(charts.map(|c| async move {
        let (series, error) = match prometheus.range(&c.query, window).await {
            Ok(series) => (series, None),
            Err(reason) => (Vec::new(), Some(reason)),
        };
        Chart {
            id: c.id.to_string(),
            title: c.title.to_string(),
            unit: c.unit.to_string(),
            series,
            error,
        }
    }))
    .await;
    metrics.charts = Some(drawn);
    metrics.dialect = Some(source);
    metrics
}

/// `node`'s charts over `range` (only the one with id `only`, when given).
pub async fn node_metrics(
    state: &AppState,
    caller: &Caller,
    node: &str,
    range: Range,
    only: Option<&str>,
) -> Result<Metrics, AppError> {
    crate::names::check_name("name", node)?;
    check_chart(only, &promql::NODE_CHARTS)?;
    crate::nodes::server::check_visible(state, caller).await?;
    // Only nodes that exist are queried (and cached): a made-up name costs nothing.
    if !state.inventory.read()?.nodes.contains_key(node) {
        return Err(AppError::not_found(format!("node {node:?}")));
    }
    let metrics = empty(node.to_string(), range, window_of(range, now()));
    let Some(prometheus) = &state.prometheus else {
        return Ok(metrics);
    };
    let dialect = prometheus.dialect().await;
    let charts = promql::node_charts(dialect, node);
    Ok(draw(metrics, prometheus, dialect.describe(), charts, only).await)
}

/// A job's run as a window: from a minute before it started to a minute after it ended (or
/// now), at least [`MIN_CUSTOM_SECS`] and at most [`MAX_CUSTOM_SECS`] long.
fn run_window(started: i64, finished: Option<i64>, now: i64) -> Window {
    let end = finished.unwrap_or(now).min(now) + 60;
    let start = (started - 60).min(end - MIN_CUSTOM_SECS);
    Window::between(start.max(end - MAX_CUSTOM_SECS), end)
}

/// A job's charts (its pods' GPUs) over `range`, for those who may list both the namespace's
/// jobs and its pods (the series name pods); only the one with id `only`, when given.
pub async fn job_metrics(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
    range: Range,
    only: Option<&str>,
) -> Result<Metrics, AppError> {
    crate::names::check_object(namespace, name)?;
    check_chart(only, &promql::JOB_CHARTS)?;
    crate::jobs::server::may_list_jobs(state, caller, namespace).await?;
    if !state
        .cluster
        .allowed(caller, "list", ("", "pods"), Some(namespace))
        .await?
    {
        return Err(AppError::forbidden(format!(
            "the cluster does not let you list pods in {namespace}"
        )));
    }
    // Only jobs Gantry knows are queried: a made-up name costs nothing.
    let (started, finished) = crate::jobs::server::run_of(state, namespace, name).await?;
    let now = now();
    let window = match range {
        Range::Run => run_window(started, finished, now),
        other => window_of(other, now),
    };
    let metrics = empty(format!("{namespace}/{name}"), range, window);
    let Some(prometheus) = &state.prometheus else {
        return Ok(metrics);
    };
    let dialect = prometheus.dialect().await;
    let selector = promql::job_selector(dialect, namespace, name);
    let charts = promql::job_charts(dialect, &selector);
    Ok(draw(metrics, prometheus, dialect.describe(), charts, only).await)
}

/// A serving workload's traffic over `range` (only the chart with id `only`, when given),
/// for those who may see the service; summed over its pods, which are never named.
pub async fn service_metrics(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
    range: Range,
    only: Option<&str>,
) -> Result<Metrics, AppError> {
    check_chart(only, &promql::SERVICE_CHARTS)?;
    let deployment =
        crate::serving::server::serving_deployment(state, caller, kind, namespace, name).await?;
    let window = window_of(range, now());
    let metrics = empty(format!("{namespace}/{name}"), range, window);
    let Some(prometheus) = &state.prometheus else {
        return Ok(metrics);
    };
    let selector = promql::deployment_selector(namespace, &deployment);
    // Two steps, and never under a minute: enough samples for a rate at any scrape interval.
    let rate_secs = (2 * window.step_secs).max(60);
    let charts = promql::service_charts(&selector, rate_secs);
    let source = format!(
        "{} and {} of {deployment}'s pods",
        promql::SERVING_REQUESTS,
        promql::SERVING_LATENCY
    );
    Ok(draw(metrics, prometheus, source, charts, only).await)
}

/// The fleet's GPUs, allocated and busy over `range`: counts only, for those who see nodes.
pub async fn fleet_metrics(
    state: &AppState,
    caller: &Caller,
    range: Range,
) -> Result<Metrics, AppError> {
    crate::nodes::server::check_visible(state, caller).await?;
    let metrics = empty("fleet".to_string(), range, window_of(range, now()));
    let Some(prometheus) = &state.prometheus else {
        return Ok(metrics);
    };
    let dialect = prometheus.dialect().await;
    let chart = NodeChart {
        id: "fleet",
        title: "GPUs allocated and busy",
        unit: "GPUs",
        query: promql::fleet(dialect, prometheus.idle_rule().percent),
    };
    Ok(draw(metrics, prometheus, dialect.describe(), vec![chart], None).await)
}

/// Pods holding GPUs they have not used for the idle rule's window, most idle GPU-hours
/// first, only in namespaces `caller` may list pods in.
pub async fn idle_gpus(state: &AppState, caller: &Caller) -> Result<IdleGpus, AppError> {
    crate::nodes::server::check_visible(state, caller).await?;
    let Some(prometheus) = &state.prometheus else {
        return Ok(IdleGpus {
            configured: false,
            percent: 0,
            minutes: 0,
            rows: Vec::new(),
            hidden: 0,
            error: None,
        });
    };
    let rule = prometheus.idle_rule();
    let mut idle = IdleGpus {
        configured: true,
        percent: rule.percent,
        minutes: rule.minutes,
        rows: Vec::new(),
        hidden: 0,
        error: None,
    };
    let dialect = prometheus.dialect().await;
    let query = promql::idle_gpus(dialect, rule.percent, rule.minutes);
    let samples = match prometheus.at(&query, now()).await {
        Ok(samples) => samples,
        Err(reason) => {
            idle.error = Some(reason);
            return Ok(idle);
        }
    };
    let mut pods: std::collections::BTreeMap<(String, String), IdlePod> = Default::default();
    for (labels, busiest) in samples {
        let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
        let key = (label(dialect.pods.namespace()), label(dialect.pods.pod()));
        let pod = pods.entry(key.clone()).or_insert_with(|| IdlePod {
            namespace: key.0.clone(),
            pod: key.1.clone(),
            owner: None,
            node: label(dialect.host.name()),
            gpus: 0,
            busiest_percent: 0.0,
            idle_gpu_hours: 0.0,
        });
        pod.gpus += 1;
        pod.busiest_percent = pod.busiest_percent.max(busiest);
    }
    for pod in pods.values_mut() {
        pod.idle_gpu_hours = f64::from(pod.gpus) * f64::from(rule.minutes) / 60.0;
    }
    let visible = crate::nodes::server::pod_namespaces(
        state,
        caller,
        pods.keys().map(|(namespace, _)| namespace.as_str()),
    )
    .await?;
    let index = state.inventory.read()?;
    let (mut shown, hidden): (Vec<IdlePod>, Vec<IdlePod>) = pods
        .into_values()
        .partition(|p| visible.contains(&p.namespace));
    for pod in &mut shown {
        pod.owner = index
            .pods
            .get(&(pod.namespace.clone(), pod.pod.clone()))
            .and_then(|p| p.owner.as_ref())
            .map(|o| format!("{}/{}", o.kind, o.name));
    }
    shown.sort_by(|a, b| b.idle_gpu_hours.total_cmp(&a.idle_gpu_hours));
    idle.rows = shown;
    idle.hidden = hidden.len();
    Ok(idle)
}

/// Firing and pending alerts `caller` may see, about `about`: those about a pod only where
/// the caller may list pods, the others to anyone who sees nodes.
pub async fn alerts(
    state: &AppState,
    caller: &Caller,
    about: &AlertsAbout,
) -> Result<Alerts, AppError> {
    match about {
        AlertsAbout::All => {}
        AlertsAbout::Node(node) => crate::names::check_name("node", node)?,
        AlertsAbout::Job { namespace, name } => crate::names::check_object(namespace, name)?,
    }
    crate::nodes::server::check_visible(state, caller).await?;
    let Some(prometheus) = &state.prometheus else {
        return Ok(Alerts {
            configured: false,
            asked: 0,
            alerts: Vec::new(),
            error: None,
        });
    };
    let (asked, all) = prometheus.alerts().await;
    let all = match all {
        Ok(all) => all,
        Err(reason) => {
            return Ok(Alerts {
                configured: true,
                asked,
                alerts: Vec::new(),
                error: Some(reason),
            })
        }
    };
    let concerns = |a: &Alert| match about {
        AlertsAbout::All => true,
        AlertsAbout::Node(node) => a.node.as_ref() == Some(node),
        AlertsAbout::Job { namespace, name } => {
            a.namespace.as_ref() == Some(namespace)
                && a.pod.as_deref().is_some_and(|p| promql::is_pod_of(name, p))
        }
    };
    let about: Vec<Alert> = all.into_iter().filter(concerns).collect();
    let visible = crate::nodes::server::pod_namespaces(
        state,
        caller,
        about.iter().filter_map(|a| a.namespace.as_deref()),
    )
    .await?;
    let mut alerts: Vec<Alert> = about
        .into_iter()
        .filter(|a| a.namespace.as_ref().is_none_or(|ns| visible.contains(ns)))
        .collect();
    // Firing first, then by name and what they are about.
    alerts.sort_by(|a, b| {
        (a.state != "firing", &a.name, &a.node, &a.pod).cmp(&(
            b.state != "firing",
            &b.name,
            &b.node,
            &b.pod,
        ))
    });
    Ok(Alerts {
        configured: true,
        asked,
        alerts,
        error: None,
    })
}
