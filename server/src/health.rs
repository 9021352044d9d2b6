//! Probes and metrics for whoever runs Gantry: `/healthz`, `/readyz`, `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use gantry_app::cluster::ClusterStatus;
use gantry_app::state::AppState;
use serde::Serialize;

/// Alive: the process answers HTTP. Deliberately checks nothing else, so that a database or
/// cluster outage never gets Gantry restarted.
pub async fn healthz() -> &'static str {
    "ok"
}

/// One dependency's state in `/readyz`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Check {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The body of `/readyz`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Readiness {
    ready: bool,
    database: Check,
    kubernetes: Check,
    caches: Check,
}

impl Readiness {
    /// Ready when the database answers, the cluster is connected and the node and pod
    /// caches have synced (before that, GPU pages would answer 503).
    pub fn assess(
        database: Result<(), String>,
        cluster: &ClusterStatus,
        caches_synced: bool,
    ) -> Readiness {
        let database = Check {
            ok: database.is_ok(),
            reason: database.err(),
        };
        let kubernetes = match cluster {
            ClusterStatus::Connected { .. } => Check {
                ok: true,
                reason: None,
            },
            ClusterStatus::NotConnected { reason, .. } => Check {
                ok: false,
                reason: Some(reason.clone()),
            },
        };
        let caches = Check {
            ok: caches_synced,
            reason: (!caches_synced).then(|| "the node and pod caches are still loading".into()),
        };
        Readiness {
            ready: database.ok && kubernetes.ok && caches.ok,
            database,
            kubernetes,
            caches,
        }
    }
}

/// Ready to serve: 200 or 503, with each check and the reason it failed.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = Readiness::assess(
        crate::db::ping(state.db.pool()).await,
        &state.cluster.status(),
        state.inventory.synced(),
    );
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}

/// Request counts and latencies in the OpenMetrics text format, which Prometheus scrapes.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.http_metrics.render(&state.inventory.gauges()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected() -> ClusterStatus {
        ClusterStatus::Connected {
            context: "kind".into(),
            server: "https://127.0.0.1:6443/".into(),
            version: "v1.36.3".into(),
        }
    }

    #[test]
    fn ready_only_when_all_three_answer() {
        assert!(Readiness::assess(Ok(()), &connected(), true).ready);
        let loading = Readiness::assess(Ok(()), &connected(), false);
        assert!(!loading.ready);
        assert_eq!(
            loading.caches.reason.as_deref(),
            Some("the node and pod caches are still loading")
        );
        let no_db = Readiness::assess(Err("no answer within 1 s".into()), &connected(), true);
        assert!(!no_db.ready);
        assert_eq!(
            no_db.database.reason.as_deref(),
            Some("no answer within 1 s")
        );
    }

    #[test]
    fn says_why_the_cluster_is_missing() {
        let status = ClusterStatus::NotConnected {
            context: None,
            reason: "no kubeconfig found".into(),
        };
        let readiness = Readiness::assess(Ok(()), &status, false);
        assert!(!readiness.ready);
        assert!(readiness.database.ok);
        assert_eq!(
            serde_json::to_value(&readiness).unwrap(),
            serde_json::json!({
                "ready": false,
                "database": { "ok": true },
                "kubernetes": { "ok": false, "reason": "no kubeconfig found" },
                "caches": { "ok": false, "reason": "the node and pod caches are still loading" }
            })
        );
    }
}
