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
    /// The Kubernetes connection and its latest probe.
    pub cluster: Cluster,
    /// Request counts and latencies, served at `/metrics`.
    pub http_metrics: Arc<HttpMetrics>,
    /// Session lifetimes, cookies and trusted origins.
    pub auth: Arc<AuthSettings>,
    /// Failed logins per account and address, for rate limiting.
    pub login_limiter: Arc<LoginLimiter>,
    /// Watch-fed index of Nodes and Pods: the GPU inventory.
    pub inventory: Inventory,
    /// Every Job, followed by a watch, with its history in `db`.
    pub jobs: Jobs,
    /// Turns true when the server starts shutting down, so that open streams end.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

/// The shared state and the caller inside a server function, if the caller may take
/// `action` (in `namespace`): what every server function starts with.
pub fn caller(action: Action, namespace: Option<&str>) -> Result<(AppState, Caller), AppError> {
    let caller = caller::require(action, namespace)?;
    Ok((app_state()?, caller))
}

/// The shared state inside a server function or a server-rendered component.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| AppError::internal("server function", "AppState missing from context"))
}
