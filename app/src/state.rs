//! The state shared by every route handler and server function (server only).

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::*;

use crate::auth::caller::{self, Caller};
use crate::auth::limiter::LoginLimiter;
use crate::auth::rules::Action;
use crate::auth::settings::AuthSettings;
use crate::cluster::Cluster;
use crate::db::Db;
use crate::error::AppError;
use crate::http_metrics::HttpMetrics;
use crate::jobs::cache::Jobs;
use crate::nodes::cache::Inventory;

/// Everything a request may need, built once at start and cloned cheaply (all fields are
/// handles). Route handlers take it as axum state; server functions reach it with
/// [`app_state`].
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Leptos' rendering options (site root, output name, address).
    pub leptos_options: LeptosOptions,
    /// Gantry's own database: registry, history, users, sessions, audit log.
    pub db: Db,
    /// The browser sessions, in `db`: the store the session layer reads, also read by live
    /// streams to end when their session does.
    pub sessions: crate::auth::session_store::Sessions,
    /// The Kubernetes connection and its latest probe.
    pub cluster: Cluster,
    /// Request counts and latencies, served at `/metrics`.
    pub http_metrics: Arc<HttpMetrics>,
    /// Session lifetimes, cookies and trusted origins.
    pub auth: Arc<AuthSettings>,
    /// Failed logins per account and address, for rate limiting.
    pub login_limiter: Arc<LoginLimiter>,
    /// Where MLflow artifacts are kept, and how large one may be.
    pub artifacts: Arc<crate::models::artifacts::Artifacts>,
    /// `GANTRY_TRACKING_URI`: Gantry's address as a job's pods reach it, given to jobs
    /// launched with MLflow tracking on; unset, tracking is refused and the form says why.
    pub tracking_uri: Option<String>,
    /// `GANTRY_MLFLOW_SERVICE_HOST`: Gantry's Service as a DNS name in the cluster, which a
    /// tracked job's `mlflow-server` Service aliases; unset, jobs cannot ask for one.
    #[from_ref(skip)]
    pub mlflow_service_host: Option<String>,
    /// `GANTRY_MLFLOW_SEARCH_MAX_RUNS`: the most runs, an experiment's newest, that one
    /// filtered or ordered `runs/search` reads (`models::tracking::search`).
    #[from_ref(skip)]
    pub mlflow_search_max_runs: i64,
    /// Watch-fed index of Nodes and Pods: the GPU inventory.
    pub inventory: Inventory,
    /// Every Job, followed by a watch, with its history in `db`.
    pub jobs: Jobs,
    /// The serving workloads (model-serving Deployments, HPAs, InferenceServices), followed
    /// by watches.
    pub services: crate::serving::cache::Services,
    /// Prometheus, when `GANTRY_PROMETHEUS_URL` is set; without it the metric areas say so.
    pub prometheus: Option<crate::metrics::prom::Prometheus>,
    /// Live streams open, per user and in all (`GANTRY_STREAMS_PER_USER`,
    /// `GANTRY_STREAMS_TOTAL`).
    pub streams: Arc<crate::caps::Caps>,
    /// Turns true when the server starts shutting down, so that open streams end.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// Whether this replica does the work that must happen once (history, retention).
    pub leader: crate::leader::Leadership,
}

/// The shared state and the caller inside a server function, if the caller may take
/// `action` (in `namespace`): what every server function starts with.
pub fn caller(action: Action, namespace: Option<&str>) -> Result<(AppState, Caller), AppError> {
    let caller = caller::require(action, namespace)?;
    Ok((app_state()?, caller))
}

/// Runs `work` to its end even if the request that asked for it goes away (the browser
/// navigated on, the client timed out): a change to the cluster and its audit row are never
/// cut off between the two when axum drops the request's future. The work keeps the
/// request's context (its client address for the audit log).
pub async fn to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, AppError> {
    let work = ScopedFuture::new_untracked(work);
    tokio::spawn(work)
        .await
        .unwrap_or_else(|e| Err(AppError::internal("running an action", e)))
}

/// The shared state inside a server function or a server-rendered component.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| AppError::internal("server function", "AppState missing from context"))
}
