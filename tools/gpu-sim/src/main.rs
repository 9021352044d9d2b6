//! `gantry-gpu-sim`: what NVIDIA's dcgm-exporter would expose for the local cluster's fake
//! GPU nodes, and what a model server would expose for its serving pods, on one `/metrics`
//! for Prometheus to scrape. Demo and test tooling, not the product: there are no GPUs
//! here, and this is the only part of the metrics path that is simulated.
//!
//!   gantry-gpu-sim --kubeconfig PATH [--listen 127.0.0.1:9400] [--seed 1]
//!                  [--serving-namespace ml-serving]
//!   gantry-gpu-sim backfill …   (a made-up fleet's history for promtool; see backfill.rs)
//!
//! It reads the cluster PATH names (Nodes and Pods, watched). The path is an argument, not
//! the environment, so that the local cluster's scripts find the process by its run folder. A pod's
//! `gantry.dev/gpu-pattern` annotation sets how busy its GPUs are (`busy`, `idle` or a
//! percentage); a node's `gantry.dev/gpu-xid` makes its GPU 0 report that XID error; a
//! pod's `gantry.dev/serving-rate` makes it a model server with that many requests a second.

mod backfill;
mod dcgm;
mod fleet;
mod noise;
mod serving;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};

struct Options {
    kubeconfig: Option<std::path::PathBuf>,
    listen: SocketAddr,
    seed: u64,
    serving_namespace: String,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        kubeconfig: None,
        listen: "127.0.0.1:9400".parse()?,
        seed: 1,
        serving_namespace: "ml-serving".to_string(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--kubeconfig" => options.kubeconfig = Some(value.into()),
            "--listen" => options.listen = value.parse().context("--listen")?,
            "--seed" => options.seed = value.parse().context("--seed")?,
            "--serving-namespace" => options.serving_namespace = value,
            _ => bail!("unknown option {flag}"),
        }
    }
    if options.kubeconfig.is_none() {
        bail!("--kubeconfig is required");
    }
    Ok(options)
}

#[derive(Clone)]
struct Sim {
    nodes: Store<Node>,
    pods: Store<Pod>,
    seed: u64,
    serving_namespace: String,
}

/// Follows `api` into a store for ever (the watcher retries with backoff on its own).
fn follow<K>(api: Api<K>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    store
}

async fn metrics(State(sim): State<Sim>) -> impl IntoResponse {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let nodes = sim.nodes.state();
    let pods = sim.pods.state();
    let gpus = fleet::fleet(&nodes, &pods);
    let servers: Vec<serving::Server> = pods
        .iter()
        .filter_map(|p| serving::Server::of(p, &sim.serving_namespace))
        .collect();
    let body = dcgm::render(sim.seed, &gpus, now) + &serving::render(sim.seed, &servers, now);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("backfill") {
        return backfill::main(std::env::args().skip(2));
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let options = options()?;
    // kube's TLS asks rustls for the process' provider; ring is the one this build has.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = options
        .kubeconfig
        .as_deref()
        .unwrap_or(std::path::Path::new(""));
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("--kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = Client::try_from(config)?;
    let sim = Sim {
        nodes: follow(Api::<Node>::all(client.clone())),
        pods: follow(Api::<Pod>::all(client)),
        seed: options.seed,
        serving_namespace: options.serving_namespace,
    };
    sim.nodes.wait_until_ready().await?;
    sim.pods.wait_until_ready().await?;
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .with_state(sim);
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("--listen {}", options.listen))?;
    // up.sh waits for this line.
    println!(
        "gantry-gpu-sim serving http://{}/metrics",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
