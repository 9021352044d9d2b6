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

/// One dependency's state in `/readyz`. The reason is one of a few fixed phrases: the probe
/// is anonymous, so it never names a file, an address or an error text (those are on
/// signed-in pages' banner and in Gantry's log).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Check {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl Check {
    fn new(ok: bool, reason: &'static str) -> Check {
        Check {
            ok,
            reason: (!ok).then_some(reason),
        }
    }
}

/// The body of `/readyz`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Readiness {
    ready: bool,
    database: Check,
    kubernetes: Check,
    caches: Check,
    /// SIGTERM arrived: not ready, so that the Service stops sending clients here while the
    /// requests already under way finish.
    shutting_down: bool,
    /// Whether this replica does the work that happens once (`gantry_app::leader`); every
    /// replica serves, so it has no part in `ready`.
    leader: bool,
}

impl Readiness {
    /// Ready when the database answers, the cluster is connected and the node and pod
    /// caches have synced (before that, GPU pages would answer 503), until shutdown begins.
    pub fn assess(
        database: bool,
        cluster: &ClusterStatus,
        caches_synced: bool,
        shutting_down: bool,
        leader: bool,
    ) -> Readiness {
        let database = Check::new(database, "the database did not answer (see Gantry's log)");
        let kubernetes = Check::new(
            matches!(cluster, ClusterStatus::Connected { .. }),
            "not connected to Kubernetes (the reason is on signed-in pages and in Gantry's log)",
        );
        let caches = Check::new(caches_synced, "the node and pod caches are still loading");
        Readiness {
            ready: database.ok && kubernetes.ok && caches.ok && !shutting_down,
            database,
            kubernetes,
            caches,
            shutting_down,
            leader,
        }
    }
}

/// Ready to serve: 200 or 503, with each check and, for a failed one, which it is.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = crate::db::ping(&state.db).await;
    if let Err(reason) = &database {
        tracing::warn!(%reason, "readiness: the database did not answer");
    }
    let readiness = Readiness::assess(
        database.is_ok(),
        &state.cluster.status(),
        state.inventory.synced(),
        *state.stopping.borrow(),
        state.leader.is_leader(),
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
        state
            .http_metrics
            .render(&[state.inventory.gauges(), state.leader.gauges()]),
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
        assert!(Readiness::assess(true, &connected(), true, false, true).ready);
        let loading = Readiness::assess(true, &connected(), false, false, true);
        assert!(!loading.ready);
        assert_eq!(
            loading.caches.reason,
            Some("the node and pod caches are still loading")
        );
        let no_db = Readiness::assess(false, &connected(), true, false, true);
        assert!(!no_db.ready && no_db.kubernetes.ok);
        let stopping = Readiness::assess(true, &connected(), true, true, true);
        assert!(!stopping.ready && stopping.shutting_down);
    }

    #[test]
    fn says_which_check_failed_and_nothing_of_the_cluster() {
        let status = ClusterStatus::NotConnected {
            context: Some("admin@prod".into()),
            reason: "the API server at https://10.0.0.1:6443/ did not answer".into(),
        };
        let readiness = Readiness::assess(true, &status, false, false, true);
        let body = serde_json::to_string(&readiness).unwrap();
        assert!(
            !body.contains("10.0.0.1") && !body.contains("prod"),
            "{body}"
        );
        assert_eq!(
            serde_json::to_value(&readiness).unwrap(),
            serde_json::json!({
                "ready": false,
                "database": { "ok": true },
                "kubernetes": {
                    "ok": false,
                    "reason": "not connected to Kubernetes (the reason is on signed-in pages and in Gantry's log)"
                },
                "caches": { "ok": false, "reason": "the node and pod caches are still loading" },
                "shutting_down": false,
                "leader": true
            })
        );
    }
}
