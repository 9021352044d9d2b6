//! The metrics answers as the user (server only): the caller must be allowed to see nodes,
//! and the node must be one the inventory knows, before anything is asked of Prometheus.

use futures::future::join_all;

use super::promql::{self, HostLabel};
use super::{Chart, NodeMetrics, Span};
use crate::auth::caller::Caller;
use crate::error::AppError;
use crate::state::AppState;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `node`'s charts over `span`, each with its series or the reason it has none.
pub async fn node_metrics(
    state: &AppState,
    caller: &Caller,
    node: &str,
    span: Span,
) -> Result<NodeMetrics, AppError> {
    crate::names::check_name("name", node)?;
    crate::nodes::server::check_visible(state, caller).await?;
    // Only nodes that exist are queried (and cached): a made-up name costs nothing.
    if !state.inventory.read()?.nodes.contains_key(node) {
        return Err(AppError::not_found(format!("node {node:?}")));
    }
    let mut metrics = NodeMetrics {
        node: node.to_string(),
        range: span,
        step_secs: span.step_secs(),
        charts: None,
        dialect: None,
    };
    let Some(prometheus) = &state.prometheus else {
        return Ok(metrics);
    };
    let host = prometheus.host_label().await;
    let now = now();
    let charts = promql::node_charts(host, node)
        .into_iter()
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

/// The window a chart over `span` shows right now: (start, end), end on a whole step.
pub fn window(span: Span) -> (i64, i64) {
    let now = now();
    let end = now - now.rem_euclid(span.step_secs() as i64);
    (end - span.seconds() as i64, end)
}
