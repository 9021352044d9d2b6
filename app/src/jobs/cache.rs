//! Jobs followed by a watch (server only), read with Gantry's own account, and their
//! history in Gantry's database: every Job seen gets a row, updated as its status changes
//! and kept after the Job is gone (TTL, deletion), so the list still shows it the next day.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use k8s_openapi::api::batch::v1::Job;
use kube::runtime::watcher;
use kube::Api;
use sqlx::SqlitePool;

use super::manifest::{LAUNCHED_BY, MANAGED_BY};
use super::{store, JobPhase};
use crate::cluster::Cluster;
use crate::error::AppError;
use crate::locks;
use crate::watch::{self, Change, StaleMarks};

/// What Gantry keeps of a Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The Gantry user who launched it; `None` for Jobs made elsewhere.
    pub launched_by: Option<String>,
    /// Seconds since the epoch.
    pub created: i64,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub phase: JobPhase,
    /// Why it failed (`BackoffLimitExceeded: …`), when it did.
    pub reason: Option<String>,
    /// GPU-like units each pod asks for, and which resource.
    pub gpus_per_pod: i64,
    pub gpu_resource: Option<String>,
    /// The `nvidia.com/gpu.product` it selects, if any.
    pub gpu_model: Option<String>,
    pub parallelism: i32,
    pub completions: i32,
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
}

fn seconds(time: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<i64> {
    time.map(|t| t.0.as_second())
}

/// The phase a person would name, and why it failed: conditions first (Complete, Failed,
/// Suspended), then whether any pod is ready.
pub fn phase(job: &Job) -> (JobPhase, Option<String>) {
    let status = job.status.as_ref();
    let condition = |kind: &str| {
        status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if condition("Complete").is_some() || condition("SuccessCriteriaMet").is_some() {
        return (JobPhase::Succeeded, None);
    }
    if let Some(failed) = condition("Failed").or_else(|| condition("FailureTarget")) {
        let reason = match (&failed.reason, &failed.message) {
            (Some(reason), Some(message)) => format!("{reason}: {message}"),
            (Some(text), None) | (None, Some(text)) => text.clone(),
            (None, None) => "failed".into(),
        };
        return (JobPhase::Failed, Some(reason));
    }
    let suspended = job.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false);
    if condition("Suspended").is_some() || suspended {
        return (JobPhase::Suspended, None);
    }
    if status.and_then(|s| s.ready).unwrap_or(0) > 0 {
        return (JobPhase::Running, None);
    }
    (JobPhase::Pending, None)
}

impl JobInfo {
    pub fn from_job(job: &Job) -> JobInfo {
        let spec = job.spec.as_ref();
        let status = job.status.as_ref();
        let pod = spec.and_then(|s| s.template.spec.as_ref());
        let gpu = pod.into_iter().flat_map(|p| &p.containers).find_map(|c| {
            let resources = c.resources.as_ref()?;
            resources
                .limits
                .iter()
                .chain(resources.requests.iter())
                .flatten()
                .find(|(name, _)| name.starts_with("nvidia.com/"))
                .map(|(name, q)| {
                    (
                        name.clone(),
                        crate::quantity::parse(&q.0).unwrap_or(0.0) as i64,
                    )
                })
        });
        let (phase, reason) = phase(job);
        let annotations = job.metadata.annotations.as_ref();
        let managed = job
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY.0))
            .is_some_and(|v| v == MANAGED_BY.1);
        JobInfo {
            namespace: job.metadata.namespace.clone().unwrap_or_default(),
            name: job.metadata.name.clone().unwrap_or_default(),
            uid: job.metadata.uid.clone().unwrap_or_default(),
            launched_by: managed
                .then(|| annotations.and_then(|a| a.get(LAUNCHED_BY)).cloned())
                .flatten(),
            created: seconds(job.metadata.creation_timestamp.as_ref()).unwrap_or(0),
            started: seconds(status.and_then(|s| s.start_time.as_ref())),
            finished: seconds(status.and_then(|s| s.completion_time.as_ref())).or_else(|| {
                // Failed Jobs have no completion time: the Failed condition's time is it.
                status
                    .and_then(|s| s.conditions.as_ref())
                    .into_iter()
                    .flatten()
                    .find(|c| c.type_ == "Failed" && c.status == "True")
                    .and_then(|c| seconds(c.last_transition_time.as_ref()))
            }),
            phase,
            reason,
            gpus_per_pod: gpu.as_ref().map_or(0, |(_, n)| *n),
            gpu_resource: gpu.map(|(name, _)| name),
            gpu_model: pod
                .and_then(|p| p.node_selector.as_ref())
                .and_then(|s| s.get(crate::names::GPU_PRODUCT))
                .cloned(),
            parallelism: spec.and_then(|s| s.parallelism).unwrap_or(1),
            completions: spec.and_then(|s| s.completions).unwrap_or(1),
            active: status.and_then(|s| s.active).unwrap_or(0),
            succeeded: status.and_then(|s| s.succeeded).unwrap_or(0),
            failed: status.and_then(|s| s.failed).unwrap_or(0),
        }
    }
}

type JobKey = (String, String);

struct Shared {
    jobs: RwLock<HashMap<JobKey, JobInfo>>,
    kubeflow: super::kubeflow::KubeflowJobs,
    synced: AtomicBool,
    /// The Job watch's and each Kubeflow kind's failures.
    stale: StaleMarks,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Shared {
    /// Marks the Job watch stale since `since` (or current again with `None`), and says so.
    fn set_stale(&self, since: Option<u64>) {
        if self.stale.set(JOBS, since) {
            self.tick();
        }
    }

    fn tick(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}

/// Every Job in the cluster, as last seen; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

impl Jobs {
    /// Starts the watch in the background once `cluster` is connected; records history in `db`.
    pub fn start(cluster: Cluster, db: SqlitePool) -> Jobs {
        let jobs = Jobs {
            shared: Arc::new(Shared {
                jobs: RwLock::default(),
                kubeflow: Arc::default(),
                synced: AtomicBool::new(false),
                stale: Default::default(),
                changes: Arc::new(tokio::sync::watch::Sender::new(0)),
            }),
        };
        let shared = jobs.shared.clone();
        tokio::spawn(async move {
            let client = cluster.wait_for_client().await;
            tokio::spawn(super::kubeflow::follow(
                client.clone(),
                shared.kubeflow.clone(),
                shared.stale.clone(),
                shared.changes.clone(),
            ));
            let follower = JobFollower {
                shared,
                db,
                client: client.clone(),
            };
            watch::follow(
                JOBS,
                Api::<Job>::all(client),
                watcher::Config::default(),
                |job| JobInfo::from_job(&job),
                follower,
            )
            .await
        });
        jobs
    }

    /// The Jobs, for reading; 503 until the first LIST is in.
    pub fn read(&self) -> Result<RwLockReadGuard<'_, HashMap<JobKey, JobInfo>>, AppError> {
        if !self.shared.synced.load(Ordering::Relaxed) {
            return Err(AppError::unavailable(
                "Kubernetes",
                "the job list is still loading",
            ));
        }
        Ok(locks::read(&self.shared.jobs))
    }

    /// Kubeflow's training jobs, when their CRDs are installed.
    pub fn kubeflow(
        &self,
    ) -> RwLockReadGuard<'_, HashMap<(String, String, String), super::kubeflow::KubeflowJob>> {
        locks::read(&self.shared.kubeflow)
    }

    /// Since when the list may be out of date (the earliest failing watch), if it is.
    pub fn stale_since(&self) -> Option<u64> {
        self.shared.stale.since()
    }

    /// Ticks whenever a Job (or a Kubeflow job) changes, or a watch fails or recovers.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }
}

/// The name of the Job watch, in the log and the stale marks.
const JOBS: &str = "jobs";

/// Applies the Job watch's changes to the cache and the history.
struct JobFollower {
    shared: Arc<Shared>,
    db: SqlitePool,
    client: kube::Client,
}

impl watch::Follower<JobInfo> for JobFollower {
    async fn apply(&mut self, change: Change<JobInfo>) {
        match change {
            Change::Listed(all) => {
                for info in &all {
                    store::record(&self.db, info).await;
                }
                *locks::write(&self.shared.jobs) = all
                    .into_iter()
                    .map(|info| ((info.namespace.clone(), info.name.clone()), info))
                    .collect();
                self.shared.synced.store(true, Ordering::Relaxed);
                self.shared.set_stale(None);
                self.shared.tick();
            }
            Change::Applied(info) => {
                let key = (info.namespace.clone(), info.name.clone());
                let previous = locks::write(&self.shared.jobs).insert(key, info.clone());
                if previous.as_ref() == Some(&info) {
                    return;
                }
                if previous.as_ref().map(|p| (&p.phase, p.started))
                    != Some((&info.phase, info.started))
                {
                    store::record(&self.db, &info).await;
                    if matches!(info.phase, JobPhase::Succeeded | JobPhase::Failed) {
                        tokio::spawn(capture_logs(self.client.clone(), self.db.clone(), info));
                    }
                }
                self.shared.tick();
            }
            Change::Deleted(info) => {
                locks::write(&self.shared.jobs)
                    .remove(&(info.namespace.clone(), info.name.clone()));
                store::record(&self.db, &info).await;
                store::gone(&self.db, &info.uid).await;
                self.shared.tick();
            }
            Change::Stale(since) => self.shared.set_stale(Some(since)),
        }
    }
}

/// Lines kept of each pod's log when its job finishes, and the most bytes of them.
pub const CAPTURED_LINES: i64 = 1_000;
const CAPTURED_BYTES: usize = 256 * 1024;

/// Keeps the last [`CAPTURED_LINES`] of each of the finished job's pods' logs in the
/// database. Read with Gantry's own account (it needs `pods/log`); a pod already gone (a
/// TTL of 0 can remove it first) is skipped.
async fn capture_logs(client: kube::Client, db: SqlitePool, job: JobInfo) {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{ListParams, LogParams};

    let pods: Api<Pod> = Api::namespaced(client, &job.namespace);
    let Ok(list) = pods
        .list(&ListParams::default().labels(&format!("job-name={}", job.name)))
        .await
    else {
        return;
    };
    let params = LogParams {
        tail_lines: Some(CAPTURED_LINES),
        ..Default::default()
    };
    for pod in list.items.into_iter().filter_map(|p| p.metadata.name) {
        let mut text = match pods.logs(&pod, &params).await {
            Ok(text) => text,
            Err(error) => {
                tracing::info!(%error, %pod, "no log to capture");
                continue;
            }
        };
        if text.len() > CAPTURED_BYTES {
            let cut = text.len() - CAPTURED_BYTES;
            let start = text[cut..].find('\n').map_or(cut, |i| cut + i + 1);
            text = text.split_off(start);
        }
        store::keep_log(&db, &job.uid, &pod, text).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(value: serde_json::Value) -> Job {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_phase_follows_conditions_then_readiness() {
        let pending =
            job(serde_json::json!({ "spec": { "template": {} }, "status": { "active": 1 } }));
        assert_eq!(phase(&pending), (JobPhase::Pending, None));
        let running = job(
            serde_json::json!({ "spec": { "template": {} }, "status": { "active": 1, "ready": 1 } }),
        );
        assert_eq!(phase(&running).0, JobPhase::Running);
        let done = job(serde_json::json!({ "spec": { "template": {} }, "status": {
            "conditions": [{ "type": "Complete", "status": "True" }] } }));
        assert_eq!(phase(&done).0, JobPhase::Succeeded);
        let failed = job(serde_json::json!({ "spec": { "template": {} }, "status": {
            "conditions": [{ "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                             "message": "Job has reached the specified backoff limit" }] } }));
        assert_eq!(
            phase(&failed),
            (
                JobPhase::Failed,
                Some("BackoffLimitExceeded: Job has reached the specified backoff limit".into())
            )
        );
        let suspended = job(serde_json::json!({ "spec": { "suspend": true, "template": {} } }));
        assert_eq!(phase(&suspended).0, JobPhase::Suspended);
    }

    #[test]
    fn a_job_keeps_its_gpus_model_and_launcher() {
        let info = JobInfo::from_job(&job(serde_json::json!({
            "metadata": { "namespace": "team-a", "name": "ft", "uid": "u1",
                          "labels": { "app.kubernetes.io/managed-by": "gantry" },
                          "annotations": { "gantry.dev/launched-by": "alice" } },
            "spec": { "parallelism": 2, "completions": 4, "template": { "spec": {
                "nodeSelector": { "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" },
                "containers": [{ "name": "train", "resources": { "limits": { "nvidia.com/gpu": "4" } } }]
            } } },
            "status": { "active": 2, "succeeded": 1 }
        })));
        assert_eq!(info.launched_by.as_deref(), Some("alice"));
        assert_eq!(
            (info.gpus_per_pod, info.gpu_resource.as_deref()),
            (4, Some("nvidia.com/gpu"))
        );
        assert_eq!(info.gpu_model.as_deref(), Some("NVIDIA-H100-80GB-HBM3"));
        assert_eq!(
            (
                info.parallelism,
                info.completions,
                info.active,
                info.succeeded
            ),
            (2, 4, 2, 1)
        );
        // An annotation alone does not make a Job Gantry's.
        let foreign = JobInfo::from_job(&job(serde_json::json!({
            "metadata": { "annotations": { "gantry.dev/launched-by": "mallory" } },
            "spec": { "template": {} }
        })));
        assert_eq!(foreign.launched_by, None);
    }
}
