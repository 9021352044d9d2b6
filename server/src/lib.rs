//! Gantry's HTTP server: builds the shared state, the router and its layers, and serves until
//! told to stop.

mod assets;
pub mod config;
mod db;
mod health;
mod http;
mod security;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use gantry_app::auth::limiter::LoginLimiter;
use gantry_app::auth::session_store::Sessions;
use gantry_app::auth::settings::AuthSettings;
use gantry_app::auth::{accounts, layer};
use gantry_app::cluster::{Cluster, ClusterSource};
use gantry_app::http_metrics::HttpMetrics;
use gantry_app::leader::Leadership;
use gantry_app::nodes::cache::Inventory;
use gantry_app::state::AppState;
use gantry_app::{shell, App};
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::services::ServeFile;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;

pub use config::Config;

/// Gantry's version, as recorded in the database and shown in logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Opens the database, starts probing the cluster and assembles the shared state.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("GANTRY_DATA_DIR {}: {e}", config.data_dir.display()))?;
    let (db, sessions) = db::open(&config.database_url.0, config.database_connections)
        .await
        .map_err(|e| {
            let url = db::redacted(&config.database_url.0);
            anyhow::anyhow!("GANTRY_DATABASE_URL {url}: {e}")
        })?;
    db::record_start(&db, VERSION).await?;
    let artifacts = gantry_app::models::artifacts::Artifacts::open(
        &config.artifact_store,
        &config.data_dir,
        config.artifact_max_bytes,
    )
    .map_err(|e| anyhow::anyhow!("GANTRY_ARTIFACT_STORE: {e}"))?;
    tracing::info!(store = %artifacts.described, "artifacts");
    let artifacts = Arc::new(artifacts);
    accounts::ensure_first_admin(&db, config.admin_password.clone().map(|s| s.0))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Expired sessions are refused on sight; this only reclaims their rows.
    tokio::spawn(
        sessions
            .clone()
            .continuously_delete_expired(tokio::time::Duration::from_secs(300)),
    );

    let cluster = Cluster::new(ClusterSource {
        kubeconfig: config.kubeconfig.clone(),
        context: config.kube_context.clone(),
        impersonate_groups: config.impersonate_groups.clone(),
    });
    cluster.connect_and_watch().await;
    let stopping = Arc::new(tokio::sync::watch::Sender::new(false));
    let leader = match &config.leader_lease {
        None => Leadership::sole(),
        Some((namespace, name)) => Leadership::elect(
            cluster.clone(),
            namespace.clone(),
            name.clone(),
            gantry_app::leader::identity(),
            stopping.subscribe(),
        ),
    };
    let cluster_for_caches = cluster.clone();
    let jobs = gantry_app::jobs::cache::Jobs::start(
        cluster.clone(),
        db.clone(),
        config.capture_logs,
        leader.clone(),
    );

    let services = gantry_app::serving::cache::Services::start(cluster.clone());
    gantry_app::serving::history::start(services.clone(), db.clone(), leader.clone());

    let prometheus = match &config.prometheus {
        None => None,
        Some(settings) => Some(
            gantry_app::metrics::prom::Prometheus::new(settings).map_err(|e| anyhow::anyhow!(e))?,
        ),
    };
    if let (Some(prometheus), Some(settings)) = (&prometheus, &config.prometheus) {
        gantry_app::jobs::gpu_use::start(
            db.clone(),
            prometheus.clone(),
            settings.gpu_use_delay,
            leader.clone(),
        );
    }

    let leptos_options = LeptosOptions::builder()
        .output_name("gantry")
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .hash_files(assets::hashed_names())
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
        sessions: sessions.clone(),
        cluster,
        http_metrics: Arc::new(HttpMetrics::default()),
        auth: Arc::new(AuthSettings {
            session_idle: config.session_idle,
            session_lifetime: config.session_lifetime,
            trusted_origins: config.trusted_origins.clone(),
            embed_origins: config.embed_origins.clone(),
            secure_cookies: config.secure_cookies,
            trusted_proxies: config.trusted_proxies.clone(),
        }),
        login_limiter: Arc::new(LoginLimiter::new(config.login_concurrency)),
        artifacts,
        tracking_uri: config.tracking_uri.clone(),
        mlflow_service_host: config.mlflow_service_host.clone(),
        mlflow_search_max_runs: config.mlflow_search_max_runs,
        services,
        inventory: Inventory::start(cluster_for_caches),
        jobs,
        prometheus,
        streams: gantry_app::caps::Caps::new(config.streams_per_user, config.streams_total),
        stopping,
        leader,
    })
}

/// The session cookie: HttpOnly always; `Secure` when configured (HTTPS); when portals
/// embed Gantry, `SameSite=None` (and `Partitioned`, added by `security::headers`, which
/// tower-sessions 0.14 cannot set) so the cookie works inside their frames; CSRF is then
/// stopped by the Origin check in `security`. The idle expiry here only sets the
/// cookie's lifetime; both timeouts are enforced on the server in `auth::session`.
fn session_layer(state: &AppState) -> SessionManagerLayer<Sessions> {
    let embedded = !state.auth.embed_origins.is_empty();
    let idle =
        tower_sessions::cookie::time::Duration::seconds(state.auth.session_idle.as_secs() as i64);
    SessionManagerLayer::new(state.sessions.clone())
        .with_name("gantry_session")
        .with_http_only(true)
        .with_secure(state.auth.secure_cookies)
        .with_same_site(if embedded {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .with_expiry(Expiry::OnInactivity(idle))
}

/// Every route: probes, each area's JSON API and streams, pages, server functions, static
/// files; then the request layers, outermost last.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let shell_options = state.leptos_options.clone();
    let site = PathBuf::from(state.leptos_options.site_root.as_ref());
    let pkg = site.join(state.leptos_options.site_pkg_dir.as_ref());
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        // Each area's JSON API and live streams: one line per area.
        .merge(gantry_app::nodes::api::router())
        .merge(gantry_app::jobs::api::router())
        .merge(gantry_app::metrics::api::router())
        .merge(gantry_app::audit::api::router())
        .merge(gantry_app::models::api::router())
        .merge(gantry_app::serving::api::router())
        // NB: the front end's files are served here, not by Leptos' fallback below: its
        // Owner for a static file is made a child of whatever Owner is current on the
        // thread, so a concurrent page render's response options (a 404 page's status, its
        // CSP) were applied to the wasm download.
        .nest_service(
            "/pkg",
            assets::service(&pkg, state.leptos_options.hash_files),
        )
        .route_service("/favicon.svg", ServeFile::new(site.join("favicon.svg")))
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
            layer::authenticate,
        ))
        .layer(session_layer(&state))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::csrf,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        // Nothing Gantry accepts comes near 1 MiB but MLflow's artifact uploads; larger
        // bodies are refused unread (413).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::limit_body,
        ))
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

/// Serves on `listener` until `shutdown` resolves, for `config.shutdown_drain` more with
/// `/readyz` failing, then lets open requests finish for at most `config.shutdown_timeout`.
pub async fn serve(
    config: &Config,
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let streams = state.stopping.clone();
    tokio::spawn(gantry_app::retention::run(
        state.db.clone(),
        state.artifacts.clone(),
        config.retention,
        state.leader.clone(),
        state.stopping.subscribe(),
    ));
    // Summed login refusals reach the audit log as their windows end, and at shutdown.
    let refusals = tokio::spawn(gantry_app::auth::login::write_refusals(state.clone()));
    // Connection info gives the client address for the audit log and login rate limits.
    let service = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let drain = config.shutdown_drain;
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown.await;
        // Not ready first, still serving: Kubernetes takes a pod out of its Service's
        // endpoints only after /readyz fails, and connections sent meanwhile must not be
        // refused. Live streams end now (they never finish by themselves), so their clients
        // reconnect to another replica.
        streams.send_replace(true);
        tracing::info!(?drain, "shutting down: /readyz answers 503, still serving");
        tokio::time::sleep(drain).await;
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
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), refusals).await;
    Ok(())
}
