//! Kubeflow's training jobs, listed read-only beside batch Jobs (server only): PyTorchJob
//! (`kubeflow.org/v1`, the training operator) and TrainJob (`trainer.kubeflow.org/v1alpha1`,
//! Trainer v2), when their CRDs are installed. Discovery looks for them at start and then
//! every five minutes until found, so CRDs installed later appear without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kube::api::DynamicObject;
use kube::discovery::Discovery;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::Value;

use super::JobPhase;
use crate::locks;
use crate::names::GPU;
use crate::watch::{self, Change, StaleMarks};

/// The kinds looked for: (group, kind, resource as RBAC names it).
pub const KINDS: [(&str, &str, &str); 2] = [
    ("kubeflow.org", "PyTorchJob", "pytorchjobs"),
    ("trainer.kubeflow.org", "TrainJob", "trainjobs"),
];

/// What the list shows of a Kubeflow job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeflowJob {
    /// `PyTorchJob` or `TrainJob`.
    pub kind: String,
    /// The resource's RBAC group, for the caller's access check.
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub phase: JobPhase,
    pub reason: Option<String>,
    /// GPUs per pod (the largest of its replica types) and pods in all.
    pub gpus_per_pod: i64,
    pub pods: i32,
}

/// The phase from the newest condition that is True: Succeeded/Complete, Failed,
/// Suspended, Running; otherwise Pending.
pub fn phase(status: &Value) -> (JobPhase, Option<String>) {
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let holds = |kinds: &[&str]| {
        conditions
            .iter()
            .rev()
            .find(|c| c["status"] == "True" && kinds.iter().any(|k| c["type"] == *k))
    };
    if holds(&["Succeeded", "Complete"]).is_some() {
        return (JobPhase::Succeeded, None);
    }
    if let Some(failed) = holds(&["Failed"]) {
        let reason = [&failed["reason"], &failed["message"]]
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(": ");
        return (JobPhase::Failed, Some(reason));
    }
    if holds(&["Suspended"]).is_some() {
        return (JobPhase::Suspended, None);
    }
    if holds(&["Running"]).is_some() {
        return (JobPhase::Running, None);
    }
    (JobPhase::Pending, None)
}

fn gpus(limits: &Value) -> i64 {
    limits[GPU]
        .as_str()
        .and_then(|q| q.parse().ok())
        .or_else(|| limits[GPU].as_i64())
        .unwrap_or(0)
}

/// GPUs per pod and pods in all, from a PyTorchJob's replica specs or a TrainJob's trainer.
pub fn shape(kind: &str, spec: &Value) -> (i64, i32) {
    if kind == "TrainJob" {
        let nodes = spec["trainer"]["numNodes"].as_i64().unwrap_or(1);
        return (
            gpus(&spec["trainer"]["resourcesPerNode"]["limits"]),
            nodes as i32,
        );
    }
    let mut per_pod = 0;
    let mut pods = 0;
    for replica in spec["pytorchReplicaSpecs"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
    {
        pods += replica["replicas"].as_i64().unwrap_or(1);
        for container in replica["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            per_pod = per_pod.max(gpus(&container["resources"]["limits"]));
        }
    }
    (per_pod, pods as i32)
}

fn from_object(kind: &str, group: &str, resource: &str, object: &DynamicObject) -> KubeflowJob {
    let (phase, reason) = phase(&object.data["status"]);
    let (gpus_per_pod, pods) = shape(kind, &object.data["spec"]);
    KubeflowJob {
        kind: kind.into(),
        group: group.into(),
        resource: resource.into(),
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        created: object
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| t.0.as_second()),
        phase,
        reason,
        gpus_per_pod,
        pods,
    }
}

/// (kind, namespace, name) → job.
pub type KubeflowJobs = Arc<RwLock<HashMap<(String, String, String), KubeflowJob>>>;

/// Finds the installed kinds (retrying every five minutes for the missing ones) and follows
/// each with a watch into `jobs`, ticking `changes` on every change; a failing watch is marked
/// in `stale` under its kind.
pub async fn follow(
    client: Client,
    jobs: KubeflowJobs,
    stale: StaleMarks,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
) {
    let mut followed: Vec<&str> = Vec::new();
    loop {
        let groups: Vec<&str> = KINDS.iter().map(|(g, _, _)| *g).collect();
        if let Ok(discovery) = Discovery::new(client.clone()).filter(&groups).run().await {
            for (group, kind, resource) in KINDS {
                if followed.contains(&kind) {
                    continue;
                }
                let found = discovery
                    .groups()
                    .filter(|g| g.name() == group)
                    .flat_map(|g| g.recommended_resources())
                    .find(|(r, _)| r.kind == kind);
                if let Some((api_resource, _)) = found {
                    tracing::info!(kind, version = %api_resource.version, "following Kubeflow jobs");
                    followed.push(kind);
                    let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource);
                    let follower = KindFollower {
                        kind,
                        jobs: jobs.clone(),
                        stale: stale.clone(),
                        changes: changes.clone(),
                    };
                    tokio::spawn(watch::follow(
                        kind,
                        api,
                        watcher::Config::default(),
                        move |object| from_object(kind, group, resource, &object),
                        follower,
                    ));
                }
            }
        }
        if followed.len() == KINDS.len() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(300)).await;
    }
}

/// Applies one kind's watch to the shared map.
struct KindFollower {
    kind: &'static str,
    jobs: KubeflowJobs,
    stale: StaleMarks,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl watch::Follower<KubeflowJob> for KindFollower {
    async fn apply(&mut self, change: Change<KubeflowJob>) {
        let key = |job: &KubeflowJob| (job.kind.clone(), job.namespace.clone(), job.name.clone());
        let changed = match change {
            Change::Listed(listing) => {
                let mut all = locks::write(&self.jobs);
                all.retain(|(k, _, _), _| k != self.kind);
                for job in listing {
                    all.insert(key(&job), job);
                }
                drop(all);
                self.stale.set(self.kind, None);
                true
            }
            Change::Applied(job) => {
                locks::write(&self.jobs).insert(key(&job), job);
                true
            }
            Change::Deleted(job) => {
                locks::write(&self.jobs).remove(&key(&job));
                true
            }
            Change::Stale(since) => self.stale.set(self.kind, Some(since)),
        };
        if changed {
            self.changes.send_modify(|n| *n += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_and_replicas_read_as_a_person_would() {
        let running = json!({ "conditions": [
            { "type": "Created", "status": "True" }, { "type": "Running", "status": "True" } ] });
        assert_eq!(phase(&running).0, JobPhase::Running);
        let failed = json!({ "conditions": [{ "type": "Failed", "status": "True",
            "reason": "PyTorchJobFailed", "message": "worker 2 exited with 137" }] });
        assert_eq!(
            phase(&failed),
            (
                JobPhase::Failed,
                Some("PyTorchJobFailed: worker 2 exited with 137".into())
            )
        );
        assert_eq!(
            phase(&json!({ "conditions": [{ "type": "Complete", "status": "True" }] })).0,
            JobPhase::Succeeded
        );
        assert_eq!(phase(&json!({})).0, JobPhase::Pending);

        let pytorch = json!({ "pytorchReplicaSpecs": {
            "Master": { "replicas": 1, "template": { "spec": { "containers": [{ "resources": { "limits": { "nvidia.com/gpu": "2" } } }] } } },
            "Worker": { "replicas": 3, "template": { "spec": { "containers": [{ "resources": { "limits": { "nvidia.com/gpu": "2" } } }] } } }
        } });
        assert_eq!(shape("PyTorchJob", &pytorch), (2, 4));
        let train = json!({ "trainer": { "numNodes": 2, "resourcesPerNode": { "limits": { "nvidia.com/gpu": "4" } } } });
        assert_eq!(shape("TrainJob", &train), (4, 2));
    }
}
