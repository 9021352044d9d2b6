//! Gantry's HTTP server: builds the shared state, the router and its layers, and serves until
//! told to stop.

pub mod config;
mod db;
mod health;
mod http;

use std::future::Future;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use gantry_app::cluster::{Cluster, ClusterSource};
use gantry_app::http_metrics::HttpMetrics;
use gantry_app::state::AppState;
use gantry_app::{shell, App};
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

pub use config::Config;

/// Gantry's version, as recorded in the database and shown in logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Opens the database, starts probing the cluster and assembles the shared state.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("GANTRY_DATA_DIR {}: {e}", config.data_dir.display()))?;
    let db = db::open(&config.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("GANTRY_DATABASE_URL {}: {e}", config.database_url))?;
    db::record_start(&db, VERSION).await?;

    let cluster = Cluster::new(ClusterSource {
        kubeconfig: config.kubeconfig.clone(),
        context: config.kube_context.clone(),
    });
    cluster.connect_and_watch().await;

    let leptos_options = LeptosOptions::builder()
        .output_name("gantry")
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(config.listen_addr)
        .env(if config.live_reload {
            Env::DEV
        } else {
            Env::PROD
        })
        .build();

    Ok(AppState {
        leptos_options,
        db,
        cluster,
        http_metrics: Arc::new(HttpMetrics::default()),
    })
}

/// Every route: probes, pages, server functions, static files.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let shell_options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(shell_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(http::server_fn_error_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::track_metrics,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(http::request_span)
                // A 503 from /readyz while the cluster is away is expected, not an error;
                // internal failures are logged at ERROR by AppError::internal.
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
        .with_state(state)
}

/// Serves on `listener` until `shutdown` resolves, then lets open requests finish for at most
/// `config.shutdown_timeout`.
pub async fn serve(
    config: &Config,
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing open requests");
        let _ = stopping_tx.send(());
    });
    let timeout = config.shutdown_timeout;
    tokio::select! {
        served = server => served?,
        _ = async {
            // The deadline starts when shutdown begins (or, harmlessly, when the server ends).
            let _ = stopping_rx.await;
            tokio::time::sleep(timeout).await;
        } => tracing::warn!(?timeout, "open requests still running after the shutdown timeout; stopping anyway"),
    }
    Ok(())
}
