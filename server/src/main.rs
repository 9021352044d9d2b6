//! `gantry`: reads the configuration, starts the server, stops cleanly on SIGTERM or Ctrl-C.

use gantry_server::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the address line that scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    // Gantry's HTTPS clients (kube's, reqwest's for Prometheus) use rustls with ring, the one
    // provider this build carries; reqwest asks for the process' default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Config::from_env()?;
    let shutdown = shutdown_signal()?;
    let state = gantry_server::build_state(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .map_err(|e| anyhow::anyhow!("GANTRY_LISTEN_ADDR {}: {e}", config.listen_addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(version = gantry_server::VERSION, "Gantry is listening");
    // The demo and the end-to-end tests read this line to find the address.
    println!("Gantry is running at http://{addr}/");
    gantry_server::serve(&config, state, listener, shutdown).await
}

/// Listens for SIGTERM (what Kubernetes sends) and Ctrl-C from now on, and resolves on either.
///
/// NB: the handlers are installed before the future is returned, so a SIGTERM that arrives
/// right after the address is printed still shuts down cleanly instead of killing the process.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

/// Ctrl-C only, where there are no Unix signals.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
