//! Figures for the GPU inventory at scale, printed for tools/bench/gpu-inventory.sh (which
//! starts the cluster, seeds 5,000 nodes and 50,000 pods, and runs Gantry and wrk):
//!
//!   lists CONCURRENCY SECONDS   The baseline: the nodes table's first page (50 rows, GPUs
//!                               free ≥ 1, most free first) answered per request by
//!                               paginated LISTs of nodes and pods, as dashboards without a
//!                               cache do, from CONCURRENCY clients for SECONDS.
//!   bind BASE COOKIE NODES...   For each node: open Gantry's nodes stream on it, create a
//!                               1-GPU pod the scheduler binds there, and time from the bind
//!                               (as a watch sees it) to the delta with the new free count.
//!
//! KUBECONFIG names the cluster. Latencies are printed as percentiles.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::StreamExt;
use gantry_app::nodes::inventory::{node_row, NodeInfo, PodInfo};
use gantry_app::nodes::select::select;
use gantry_app::nodes::{GpuNodeRow, NodeFilter};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

mod support;

use support::{percentiles, Error, Events};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // `cargo bench` adds `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let client = Client::try_default().await?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["lists", concurrency, seconds] => {
            lists(client, concurrency.parse()?, seconds.parse()?).await
        }
        ["bind", base, cookie, nodes @ ..] => bind(client, base, cookie, nodes).await,
        _ => {
            Err("usage: gpu_inventory lists CONCURRENCY SECONDS | bind BASE COOKIE NODES...".into())
        }
    }
}

/// Every object of a paginated LIST, each page converted by `keep` as it arrives (holding
/// 50,000 whole Pods per request would take gigabytes per client).
async fn list_all<K, T>(
    api: Api<K>,
    mut params: ListParams,
    keep: impl Fn(&K) -> Option<T>,
) -> Result<Vec<T>, Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut kept = Vec::new();
    loop {
        let page = api.list(&params).await?;
        kept.extend(page.items.iter().filter_map(&keep));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params.continue_token = Some(token),
            _ => return Ok(kept),
        }
    }
}

/// The first page of the table, computed from scratch the way Gantry's index computes it,
/// but from LISTs made for this one request.
async fn page_by_lists(client: Client) -> Result<usize, Error> {
    let nodes = list_all(
        Api::<Node>::all(client.clone()),
        ListParams::default().limit(500),
        NodeInfo::from_node,
    )
    .await?;
    let active = ListParams::default()
        .limit(500)
        .fields("status.phase!=Succeeded,status.phase!=Failed");
    let pods = list_all(Api::<Pod>::all(client), active, PodInfo::from_pod).await?;
    let mut on_node: HashMap<&str, Vec<&PodInfo>> = HashMap::new();
    for pod in &pods {
        if let Some(node) = &pod.node {
            on_node.entry(node).or_default().push(pod);
        }
    }
    let rows: BTreeMap<String, GpuNodeRow> = nodes
        .into_iter()
        .filter_map(|n| {
            let row = node_row(
                &n,
                on_node.get(n.name.as_str()).into_iter().flatten().copied(),
            )?;
            Some((n.name, row))
        })
        .collect();
    let filter = NodeFilter {
        min_free: 1,
        sort: "free".into(),
        ..Default::default()
    };
    Ok(select(rows.values().map(|r| (r, None)), &filter)?
        .rows
        .len())
}

async fn lists(client: Client, concurrency: usize, seconds: u64) -> Result<(), Error> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    let start = Instant::now();
                    page_by_lists(client.clone()).await?;
                    samples.push(start.elapsed());
                }
                Ok::<_, Error>(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "paginated LISTs per request, {concurrency} clients: {} answers in {elapsed:.1} s = {:.2} req/s",
        samples.len(),
        samples.len() as f64 / elapsed
    );
    percentiles("paginated LISTs per request latency", samples);
    Ok(())
}

fn free_of(update: &serde_json::Value, node: &str) -> Option<i64> {
    update["Ok"]["rows"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == node)?["free"]
        .as_i64()
}

async fn bind(client: Client, base: &str, cookie: &str, nodes: &[&str]) -> Result<(), Error> {
    let pods: Api<Pod> = Api::namespaced(client, "bench");
    let mut from_bind = Vec::new();
    let mut from_create = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let name = format!("bind-{i:03}");
        let mut events = Events::open(
            base,
            &format!("/api/v1/gpu-nodes/stream?search={node}"),
            cookie,
        )
        .await?;
        let before = free_of(&events.next().await?, node).ok_or("no row for the node")?;
        // The moment of the bind, as a watch on the pod sees it.
        let watch = watcher::watcher(
            pods.clone(),
            watcher::Config::default().fields(&format!("metadata.name={name}")),
        );
        let bound = tokio::spawn(async move {
            let mut watch = std::pin::pin!(watch);
            while let Some(event) = watch.next().await {
                if let Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) = event {
                    if pod.spec.and_then(|s| s.node_name).is_some() {
                        return Some(Instant::now());
                    }
                }
            }
            None
        });
        // Let the watch start before the pod exists.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": { "name": name },
            "spec": {
                "nodeSelector": { "kubernetes.io/hostname": node },
                // On two cores kwok cannot renew 5,000 node leases while it starts 50,000
                // pods, so the node controller taints nodes not-ready now and then; the
                // figure is about Gantry, not kwok, so the pod tolerates that.
                "tolerations": [
                    { "key": "node.kubernetes.io/not-ready", "operator": "Exists" },
                    { "key": "node.kubernetes.io/unreachable", "operator": "Exists" }
                ],
                "containers": [{ "name": "main", "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                                 "resources": { "limits": { "nvidia.com/gpu": "1" } } }]
            }
        }))?;
        let created = Instant::now();
        pods.create(&PostParams::default(), &pod).await?;
        // At scale the scheduler may take a while to bind; the figure starts at the bind.
        let shown = tokio::time::timeout(Duration::from_secs(300), async {
            loop {
                if free_of(&events.next().await?, node) == Some(before - 1) {
                    return Ok::<_, Error>(Instant::now());
                }
            }
        })
        .await??;
        let bound = bound.await?.ok_or("the pod watch ended")?;
        from_bind.push(shown.saturating_duration_since(bound));
        from_create.push(shown - created);
        pods.delete(&name, &DeleteParams::default().grace_period(0))
            .await?;
    }
    percentiles("bind → open page shows the new free count", from_bind);
    percentiles("create → open page shows the new free count", from_create);
    Ok(())
}
