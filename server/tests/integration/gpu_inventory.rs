//! The GPU inventory on the real local cluster: the caches see the seeded fleet with the
//! right free counts, and follow a pod that takes GPUs and gives them back.

use std::time::Duration;

use crate::common::cluster::{connect, gantry_kubeconfig_path, wait_for};
use crate::common::fixtures::gpu_pod;
use gantry_app::cluster::{Cluster, ClusterSource};
use gantry_app::nodes::cache::Inventory;
use gantry_app::nodes::GpuNodeRow;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::Api;

async fn inventory() -> Option<Inventory> {
    Some(synced_inventory(gantry_kubeconfig_path("gpu-inventory")?).await)
}

/// Gantry's inventory on the cluster `kubeconfig` names, once both watches have listed.
async fn synced_inventory(kubeconfig: std::path::PathBuf) -> Inventory {
    let cluster = Cluster::new(ClusterSource {
        kubeconfig: vec![kubeconfig],
        context: None,
        impersonate_groups: Vec::new(),
    });
    cluster.connect_and_watch().await;
    let inventory = Inventory::start(cluster);
    wait_for("the caches to sync", Duration::from_secs(30), || async {
        inventory.synced().then_some(())
    })
    .await;
    inventory
}

fn all_rows(inventory: &Inventory) -> Vec<GpuNodeRow> {
    inventory
        .read()
        .unwrap()
        .rows
        .values()
        .map(|r| GpuNodeRow::clone(r))
        .collect()
}

/// Whether the index has `pod` bound to `node`. Other tests schedule GPU pods on the same
/// fleet at the same time, so a change in a node's allocated count says nothing of one pod.
fn holds(inventory: &Inventory, node: &str, pod: &(String, String)) -> bool {
    let index = inventory.read().unwrap();
    index
        .on_node
        .get(node)
        .is_some_and(|pods| pods.contains(pod))
}

/// What the API server says `node`'s unfinished pods hold of NVIDIA's resources (whole GPUs,
/// MIG slices): the oracle for a row's allocated count. (Test pods ask as limits.)
async fn held(client: &kube::Client, node: &str) -> i64 {
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let pods = pods.list(&on_node).await.unwrap().items;
    pods.iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .flat_map(|p| &p.spec.as_ref().unwrap().containers)
        .flat_map(|c| c.resources.as_ref()?.limits.clone())
        .flatten()
        .filter(|(resource, _)| resource.starts_with("nvidia.com/"))
        .map(|(_, q)| q.0.parse::<i64>().unwrap())
        .sum()
}

/// The L4s that the seed's llama-chat Deployment's pods hold.
fn serving_l4s(inventory: &Inventory, rows: &[GpuNodeRow]) -> i64 {
    let index = inventory.read().unwrap();
    rows.iter()
        .filter(|r| r.model == "NVIDIA-L4")
        .flat_map(|r| index.pods_on(&r.name))
        .filter(|p| p.namespace == "ml-serving" && p.name.starts_with("llama-chat-"))
        .flat_map(|p| p.gpus.values())
        .sum()
}

async fn row(inventory: &Inventory, name: &str) -> GpuNodeRow {
    inventory
        .read()
        .unwrap()
        .rows
        .get(name)
        .map(|r| GpuNodeRow::clone(r))
        .unwrap_or_else(|| panic!("no row for {name}"))
}

#[tokio::test]
async fn the_seeded_fleet_has_the_right_free_counts() {
    let Some(test) = connect("gpu-inventory-fleet").await else {
        return;
    };
    let Some(inventory) = inventory().await else {
        return;
    };
    let rows = all_rows(&inventory);
    // 12 GPU nodes; the CPU nodes have no row.
    assert_eq!(
        rows.len(),
        12,
        "{:?}",
        rows.iter().map(|r| &r.name).collect::<Vec<_>>()
    );
    assert!(rows.iter().all(|r| !r.name.starts_with("cpu-")));
    let mig = row(&inventory, "gpu-a100-mig-0").await;
    assert_eq!((mig.allocatable, mig.free), (24, 24));
    assert_eq!(mig.resources["nvidia.com/mig-1g.10gb"], (16, 0));
    let cordoned = row(&inventory, "gpu-a100-3").await;
    assert!(cordoned.health.cordoned && cordoned.health.ready);
    assert!(!row(&inventory, "gpu-h100-3").await.health.ready);
    // Every row agrees with what the API server says the node's pods hold, and
    // llama-chat's two replicas hold one time-sliced L4 each: once the old revisions' pods,
    // Terminating right after seeding, are gone (up to their 30 s grace period; they hold
    // their GPUs until then, as the scheduler counts). Other tests add pods of their own.
    let rows = wait_for(
        "every row to agree with the API server, and llama-chat to hold 2 L4s",
        Duration::from_secs(60),
        || async {
            let rows = all_rows(&inventory);
            for r in &rows {
                if r.allocated != held(&test.client, &r.name).await {
                    return None;
                }
            }
            (serving_l4s(&inventory, &rows) == 2).then_some(rows)
        },
    )
    .await;
    // The running fine-tune holds 4 H100s on one node; the failed job holds none.
    assert!(rows
        .iter()
        .any(|r| r.model == "NVIDIA-H100-80GB-HBM3" && r.allocated >= 4));
}

#[tokio::test]
async fn a_gpu_pod_takes_gpus_and_gives_them_back() {
    let Some(test) = connect("gpu-inventory-pod").await else {
        return;
    };
    let Some(inventory) = inventory().await else {
        return;
    };
    let node = "gpu-a100-1";
    let key = (test.namespace.clone(), "takes-three".to_string());
    let pods: Api<Pod> = Api::namespaced(test.client.clone(), &test.namespace);
    let pod = gpu_pod("takes-three", 3, Some(node));
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_for(
        "the inventory to count the pod",
        Duration::from_secs(30),
        || async {
            let agrees = row(&inventory, node).await.allocated == held(&test.client, node).await;
            (agrees && holds(&inventory, node, &key)).then_some(())
        },
    )
    .await;
    pods.delete("takes-three", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    wait_for(
        "the inventory to free the GPUs",
        Duration::from_secs(30),
        || async {
            let agrees = row(&inventory, node).await.allocated == held(&test.client, node).await;
            (agrees && !holds(&inventory, node, &key)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_pod_too_big_for_any_node_waits_with_the_schedulers_reason() {
    let Some(test) = connect("gpu-inventory-pending").await else {
        return;
    };
    let Some(inventory) = inventory().await else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(test.client.clone(), &test.namespace);
    let pod = gpu_pod("wants-sixty-four", 64, None);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let key = (test.namespace.clone(), "wants-sixty-four".to_string());
    let reason = wait_for(
        "the scheduler's reason in the index",
        Duration::from_secs(30),
        || async {
            let index = inventory.read().ok()?;
            index.pending.contains(&key).then_some(())?;
            index.pods.get(&key)?.unschedulable.clone()
        },
    )
    .await;
    assert!(reason.contains("Insufficient nvidia.com/gpu"), "{reason}");
    pods.delete("wants-sixty-four", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    wait_for(
        "the pod to leave the pending list",
        Duration::from_secs(30),
        || async { (!inventory.read().ok()?.pending.contains(&key)).then_some(()) },
    )
    .await;
}

/// A TCP relay to the API server that can be cut and restored: an outage as Gantry sees
/// it, without stopping the API server the other tests use.
struct Relay {
    port: u16,
    target: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let mut relay = Relay {
            port: 0,
            target,
            tasks: Vec::new(),
            connections: Default::default(),
        };
        relay.listen().await;
        relay
    }

    async fn listen(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.port = listener.local_addr().unwrap().port();
        let target = self.target.clone();
        let connections = self.connections.clone();
        self.tasks.push(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().unwrap().push(relay.abort_handle());
            }
        }));
    }

    /// Refuses new connections and drops the open ones.
    fn cut(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

#[tokio::test]
async fn an_outage_keeps_the_last_state_marked_stale_and_recovery_resyncs() {
    let Some(test) = connect("gpu-inventory-outage").await else {
        return;
    };
    let path = gantry_kubeconfig_path("gpu-inventory-outage").unwrap();
    let kubeconfig = std::fs::read_to_string(&path).unwrap();
    let server = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://"))
        .expect("a server line")
        .trim_end_matches('/')
        .to_string();
    let mut relay = Relay::start(server.clone()).await;
    let relayed = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        relayed.path(),
        kubeconfig.replace(
            &format!("server: https://{server}"),
            &format!("server: https://127.0.0.1:{}", relay.port),
        ),
    )
    .unwrap();
    let inventory = synced_inventory(relayed.path().to_path_buf()).await;
    let node = "gpu-a100-0";
    let before = row(&inventory, node).await.allocated;
    assert_eq!(inventory.read().unwrap().stale_since(), None);

    relay.cut();
    wait_for("the stale mark", Duration::from_secs(30), || async {
        inventory.read().ok()?.stale_since()
    })
    .await;
    // The last state is still served, whole.
    assert_eq!(all_rows(&inventory).len(), 12);

    // While Gantry is cut off, a pod takes GPUs; it cannot know.
    let pods: Api<Pod> = Api::namespaced(test.client.clone(), &test.namespace);
    let pod = gpu_pod("during-the-outage", 1, Some(node));
    let key = (test.namespace.clone(), "during-the-outage".to_string());
    pods.create(&PostParams::default(), &pod).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(row(&inventory, node).await.allocated, before);
    assert!(!holds(&inventory, node, &key));

    relay.listen().await;
    wait_for(
        "the resync to clear the mark and count the pod",
        Duration::from_secs(60),
        || async {
            let current = inventory.read().ok()?.stale_since().is_none();
            let agrees = row(&inventory, node).await.allocated == held(&test.client, node).await;
            (current && agrees && holds(&inventory, node, &key)).then_some(())
        },
    )
    .await;
    pods.delete(
        "during-the-outage",
        &DeleteParams::default().grace_period(0),
    )
    .await
    .unwrap();
}
