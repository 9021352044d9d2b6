//! The metrics answers as the user (server only): the caller must be allowed to see nodes,
//! and the node must be one the inventory knows, before anything is asked of Prometheus.

use futures::future::join_all;

use super::promql::{self, HostLabel};
use super::{Alert, Alerts, Chart, IdleGpus, IdlePod, NodeMetrics, Span};
use crate::auth::caller::Caller;
use crate::error::AppError;
use crate::state::AppState;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `node`'s charts over `span` (only the one with id `only`, when given), each with its
/// series or the reason it has none.
pub async fn node_metrics(
    state: &AppState,
    caller: &Caller,
    node: &str,
    span: Span,
    only: Option<&str>,
) -> Result<NodeMetrics, AppError> {
    crate::names::check_name("name", node)?;
    if let Some(id) = only {
        if !promql::NODE_CHARTS.contains(&id) {
            return Err(AppError::not_found(format!("chart {id:?}")));
        }
    }
    crate::nodes::server::check_visible(state, caller).await?;
    // Only nodes that exist are queried (and cached): a made-up name costs nothing.
    if !state.inventory.read()?.nodes.contains_key(node) {
        return Err(AppError::not_found(format!("node {node:?}")));
    }
    let now = now();
    let (start, end) = span.window(now);
    let mut metrics = NodeMetrics {
        node: node.to_string(),
        range: span,
        step_secs: span.step_secs(),
        start,
        end,
        charts: None,
        dialect: None,
    };
    let Some(prometheus) = &state.prometheus else {
        return Ok(metrics);
    };
    let host = prometheus.host_label().await;
    let charts = promql::node_charts(host, node)
        .into_iter()
        .filter(|c| only.is_none_or(|id| c.id == id))
        .map(|c| async move {
            let answer = prometheus.range(&c.query, span, now).await;
            let (series, error) = match answer {
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
        });
    metrics.charts = Some(join_all(charts).await);
    metrics.dialect = Some(match host {
        HostLabel::Hostname => "dcgm-exporter 3.x–4.8 (Hostname)".to_string(),
        HostLabel::Lowercase => "dcgm-exporter 4.9+ (hostname)".to_string(),
    });
    Ok(metrics)
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
    let host = prometheus.host_label().await;
    let query = promql::idle_gpus(host, rule.percent, rule.minutes);
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
        let key = (label("namespace"), label("pod"));
        let pod = pods.entry(key.clone()).or_insert_with(|| IdlePod {
            namespace: key.0.clone(),
            pod: key.1.clone(),
            owner: None,
            node: label(host.name()),
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

/// Firing and pending alerts `caller` may see, about `node` only when one is given: those
/// about a pod only where the caller may list pods, the others to anyone who sees nodes.
pub async fn alerts(
    state: &AppState,
    caller: &Caller,
    node: Option<&str>,
) -> Result<Alerts, AppError> {
    if let Some(node) = node {
        crate::names::check_name("node", node)?;
    }
    crate::nodes::server::check_visible(state, caller).await?;
    let Some(prometheus) = &state.prometheus else {
        return Ok(Alerts {
            configured: false,
            alerts: Vec::new(),
            error: None,
        });
    };
    let all = match prometheus.alerts().await {
        Ok(all) => all,
        Err(reason) => {
            return Ok(Alerts {
                configured: true,
                alerts: Vec::new(),
                error: Some(reason),
            })
        }
    };
    let about: Vec<Alert> = all
        .into_iter()
        .filter(|a| node.is_none() || a.node.as_deref() == node)
        .collect();
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
        alerts,
        error: None,
    })
}
