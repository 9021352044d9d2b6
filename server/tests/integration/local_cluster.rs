//! Proof that the local cluster is the real thing: the scheduler binds GPU pods to GPU
//! nodes (or refuses, saying why), the controllers run Jobs and Deployments, kwok moves
//! pods through their lives, and pod logs come through the API server from kwok's
//! kubelet endpoint. See tools/cluster/ for how the cluster is built and seeded.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::cluster::{connect, wait_for};
use crate::common::fixtures::IMAGE;
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

const H100: &str = "NVIDIA-H100-80GB-HBM3";

/// A one-container Job that asks for `gpus` GPUs, with kwok annotations scripting how
/// its pod behaves once Running.
fn gpu_job(name: &str, gpus: u32, product: &str, annotations: serde_json::Value) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "annotations": annotations },
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": { "nvidia.com/gpu.product": product },
                    "containers": [{
                        "name": "trainer",
                        "image": IMAGE,
                        "resources": { "limits": { "nvidia.com/gpu": gpus.to_string() } }
                    }]
                }
            }
        }
    }))
    .expect("a valid Job")
}

async fn job_pod(pods: &Api<Pod>, job: &str) -> Option<Pod> {
    let selector = format!("batch.kubernetes.io/job-name={job}");
    pods.list(&ListParams::default().labels(&selector))
        .await
        .ok()?
        .items
        .into_iter()
        .next()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

#[tokio::test]
async fn a_two_gpu_job_is_bound_to_an_h100_node_by_the_scheduler_and_completes() {
    let Some(cluster) = connect("gpu-job-completes").await else {
        return;
    };
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let job = gpu_job(
        "finetune",
        2,
        H100,
        json!({ "pod-complete.stage.kwok.x-k8s.io/delay": "1s" }),
    );
    jobs.create(&PostParams::default(), &job).await.unwrap();

    wait_for("the Job to complete", Duration::from_secs(60), || async {
        let status = jobs.get("finetune").await.ok()?.status?;
        (status.succeeded == Some(1)).then_some(())
    })
    .await;

    let pod = job_pod(&pods, "finetune").await.expect("the Job's pod");
    assert_eq!(phase(&pod), "Succeeded");
    let node_name = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .expect("a bound pod");
    let node = Api::<Node>::all(cluster.client.clone())
        .get(&node_name)
        .await
        .unwrap();
    let labels = node.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.get("nvidia.com/gpu.product").map(String::as_str),
        Some(H100),
        "{node_name}"
    );

    // The binding came from kube-scheduler, not from a preset nodeName.
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let pod_name = pod.metadata.name.unwrap();
    let scheduled = events
        .list(&ListParams::default().fields(&format!("involvedObject.name={pod_name}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("Scheduled"))
        .expect("a Scheduled event");
    assert_eq!(
        scheduled.reporting_component.as_deref(),
        Some("default-scheduler")
    );
    assert!(scheduled.message.unwrap_or_default().contains(&node_name));
}

#[tokio::test]
async fn a_job_asking_for_more_gpus_than_any_node_has_stays_pending_and_says_why() {
    let Some(cluster) = connect("gpu-job-pending").await else {
        return;
    };
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    jobs.create(
        &PostParams::default(),
        &gpu_job("too-big", 16, H100, json!({})),
    )
    .await
    .unwrap();

    let message = wait_for(
        "a FailedScheduling event",
        Duration::from_secs(60),
        || async {
            let pod = job_pod(&pods, "too-big").await?;
            let name = pod.metadata.name?;
            let list = ListParams::default().fields(&format!("involvedObject.name={name}"));
            events
                .list(&list)
                .await
                .ok()?
                .items
                .into_iter()
                .find_map(|e| {
                    (e.reason.as_deref() == Some("FailedScheduling"))
                        .then(|| e.message.unwrap_or_default())
                })
        },
    )
    .await;
    assert!(message.contains("Insufficient nvidia.com/gpu"), "{message}");

    let pod = job_pod(&pods, "too-big").await.unwrap();
    assert_eq!(phase(&pod), "Pending");
    assert!(
        pod.spec.and_then(|s| s.node_name).is_none(),
        "an unschedulable pod was bound"
    );
}

#[tokio::test]
async fn a_deployment_template_change_creates_a_new_replicaset_revision() {
    let Some(cluster) = connect("deployment-revisions").await else {
        return;
    };
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let deployment = |tag: &str| {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "chat" },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": "chat" } },
                "template": {
                    "metadata": { "labels": { "app": "chat" } },
                    "spec": { "containers": [{ "name": "server", "image": format!("vllm/vllm-openai:{tag}") }] }
                }
            }
        })
    };
    let apply = PatchParams::apply("gantry-tests");
    deployments
        .patch("chat", &apply, &Patch::Apply(deployment("v1")))
        .await
        .unwrap();
    let revisions = || async {
        let sets = replica_sets.list(&ListParams::default()).await.ok()?.items;
        let revisions: BTreeMap<String, String> = sets
            .into_iter()
            .filter_map(|rs| {
                let revision = rs
                    .metadata
                    .annotations?
                    .get("deployment.kubernetes.io/revision")?
                    .clone();
                let image = rs.spec?.template?.spec?.containers.first()?.image.clone()?;
                Some((revision, image))
            })
            .collect();
        Some(revisions)
    };
    wait_for("revision 1", Duration::from_secs(30), || async {
        revisions().await.filter(|r| r.len() == 1)
    })
    .await;

    deployments
        .patch("chat", &apply, &Patch::Apply(deployment("v2")))
        .await
        .unwrap();
    let after = wait_for("revision 2", Duration::from_secs(30), || async {
        revisions().await.filter(|r| r.len() == 2)
    })
    .await;
    assert_eq!(
        after.get("1").map(String::as_str),
        Some("vllm/vllm-openai:v1")
    );
    assert_eq!(
        after.get("2").map(String::as_str),
        Some("vllm/vllm-openai:v2")
    );
}

#[tokio::test]
async fn a_job_pods_log_streams_through_the_api_server_from_kwok() {
    let Some(cluster) = connect("job-log-stream").await else {
        return;
    };
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let job = gpu_job(
        "long-run",
        1,
        H100,
        json!({ "pod-complete.stage.kwok.x-k8s.io/delay": "10m" }),
    );
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let name = wait_for("the pod to run", Duration::from_secs(60), || async {
        let pod = job_pod(&pods, "long-run").await?;
        (phase(&pod) == "Running").then(|| pod.metadata.name.unwrap())
    })
    .await;

    let whole = pods.logs(&name, &LogParams::default()).await.unwrap();
    assert!(whole.contains("Starting training"), "{whole}");

    // follow=true: the stream stays open and new lines arrive as they are written.
    let params = LogParams {
        follow: true,
        tail_lines: Some(1),
        ..LogParams::default()
    };
    let mut lines = pods.log_stream(&name, &params).await.unwrap().lines();
    let first = lines.next().await.expect("a line").unwrap();
    // The next progress line; the log repeats its three-line banner every 100 progress lines
    // (tools/cluster/pod-log.sh), which may come first.
    let next = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let line = lines.next().await.expect("an open stream").unwrap();
            if line.contains("loss=") {
                return line;
            }
            assert!(
                line.contains("Starting training")
                    || line.contains("Loaded dataset")
                    || line.contains("NCCL"),
                "{line}"
            );
        }
    })
    .await
    .expect("a new progress line within 10 s");
    assert_ne!(first, next);
}

#[tokio::test]
async fn the_seeded_fleet_is_as_documented() {
    let Some(cluster) = connect("seeded-fleet").await else {
        return;
    };
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let ready = |node: &Node| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    let gpus = |node: &Node, resource: &str| {
        node.status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(resource))
            .map(|q| q.0.clone())
    };

    let h100 = nodes.get("gpu-h100-0").await.unwrap();
    assert!(ready(&h100));
    assert_eq!(gpus(&h100, "nvidia.com/gpu").as_deref(), Some("8"));
    assert!(
        !ready(&nodes.get("gpu-h100-3").await.unwrap()),
        "gpu-h100-3 should be NotReady"
    );
    let cordoned = nodes.get("gpu-a100-3").await.unwrap();
    assert_eq!(cordoned.spec.and_then(|s| s.unschedulable), Some(true));
    let mig = nodes.get("gpu-a100-mig-0").await.unwrap();
    assert_eq!(gpus(&mig, "nvidia.com/mig-1g.10gb").as_deref(), Some("16"));
    assert_eq!(gpus(&mig, "nvidia.com/mig-3g.40gb").as_deref(), Some("8"));
    let l4 = nodes.get("gpu-l4-0").await.unwrap();
    let l4_labels = l4.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        l4_labels.get("nvidia.com/gpu.replicas").map(String::as_str),
        Some("4")
    );
    assert_eq!(gpus(&l4, "nvidia.com/gpu").as_deref(), Some("16"));

    let jobs = |ns: &str| Api::<Job>::namespaced(cluster.client.clone(), ns);
    let finished = |job: Job, condition: &str| {
        job.status
            .and_then(|s| s.conditions)
            .is_some_and(|c| c.iter().any(|c| c.type_ == condition && c.status == "True"))
    };
    wait_for(
        "bert-pretrain to complete",
        Duration::from_secs(60),
        || async {
            finished(jobs("team-a").get("bert-pretrain").await.ok()?, "Complete").then_some(())
        },
    )
    .await;
    wait_for("resnet-sweep to fail", Duration::from_secs(60), || async {
        finished(jobs("team-b").get("resnet-sweep").await.ok()?, "Failed").then_some(())
    })
    .await;
    let running = jobs("team-a").get("llama-finetune").await.unwrap();
    assert_eq!(running.status.and_then(|s| s.active), Some(1));

    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "ml-serving");
    let sets = replica_sets
        .list(&ListParams::default().labels("app.kubernetes.io/name=llama-chat"))
        .await
        .unwrap();
    assert_eq!(
        sets.items.len(),
        3,
        "llama-chat should have three revisions"
    );
}
