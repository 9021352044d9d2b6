//! Jobs followed by a watch (server only), read with Gantry's own account, and their
//! history in Gantry's database: every Job seen gets a row, updated as its status changes
//! and kept after the Job is gone (TTL, deletion), so the list still shows it the next day.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use k8s_openapi::api::batch::v1::Job;
use kube::runtime::watcher;
use kube::Api;

use super::info::JobInfo;
use super::{store, JobPhase};
use crate::cluster::Cluster;
use crate::db::Db;
use crate::error::AppError;
use crate::leader::Leadership;
use crate::locks;
use crate::watch::{self, Change, StaleMarks};

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

/// Whose logs are kept when a job finishes (`GANTRY_CAPTURE_LOGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Jobs launched through Gantry (its history says so; a label anyone can set does not).
    Gantry,
    All,
    None,
}

/// Every Job in the cluster, as last seen; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

impl Jobs {
    /// Starts the watch in the background once `cluster` is connected; records history in
    /// `db` and captures logs while this replica leads.
    pub fn start(cluster: Cluster, db: Db, capture: Capture, leader: Leadership) -> Jobs {
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
            let listing = shared.clone();
            let current = move || {
                listing
                    .synced
                    .load(Ordering::Relaxed)
                    .then(|| locks::read(&listing.jobs).values().cloned().collect())
            };
            let follower = JobFollower {
                shared,
                history: super::history::History::start(
                    db.clone(),
                    client.clone(),
                    leader.clone(),
                    current,
                ),
                leader,
                db,
                capture,
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

/// Applies the Job watch's changes to the cache, and hands them to the history's writer
/// (never waiting on the database itself).
struct JobFollower {
    shared: Arc<Shared>,
    history: super::history::History,
    /// For log capture, which runs in tasks of its own, on the leading replica.
    db: Db,
    capture: Capture,
    leader: Leadership,
    client: kube::Client,
}

impl watch::Follower<JobInfo> for JobFollower {
    async fn apply(&mut self, change: Change<JobInfo>) {
        match change {
            Change::Listed(all) => {
                self.history.listed(&all);
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
                // The finish time counts on its own: the Job controller first sets
                // SuccessCriteriaMet or FailureTarget (the phase), and Complete or Failed
                // with the finish time in a later update.
                if previous.as_ref().map(run) != Some(run(&info)) {
                    self.history.record(info.clone());
                    if matches!(info.phase, JobPhase::Succeeded | JobPhase::Failed)
                        && self.capture != Capture::None
                        && self.leader.is_leader()
                    {
                        tokio::spawn(capture_logs(
                            self.client.clone(),
                            self.db.clone(),
                            info,
                            self.capture,
                        ));
                    }
                }
                self.shared.tick();
            }
            Change::Deleted(info) => {
                locks::write(&self.shared.jobs)
                    .remove(&(info.namespace.clone(), info.name.clone()));
                self.history.gone(info);
                self.shared.tick();
            }
            Change::Stale(since) => self.shared.set_stale(Some(since)),
        }
    }
}

/// What the history records of a Job's run: a change to any of it is written.
fn run(job: &JobInfo) -> (&JobPhase, &Option<String>, Option<i64>, Option<i64>) {
    (&job.phase, &job.reason, job.started, job.finished)
}

/// Lines kept of each pod's log when its job finishes, and the most bytes of them.
pub const CAPTURED_LINES: i64 = 1_000;
const CAPTURED_BYTES: usize = 256 * 1024;

/// Keeps the last [`CAPTURED_LINES`] of each of the finished job's pods' logs in the
/// database. Read with Gantry's own account (it needs `pods/log`); a pod already gone (a
/// TTL of 0 can remove it first) is skipped.
async fn capture_logs(client: kube::Client, db: Db, job: JobInfo, capture: Capture) {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{ListParams, LogParams};

    // The history's row is written by its own writer; a job launched through Gantry has
    // its launcher there from the launch on.
    if capture == Capture::Gantry
        && !matches!(store::kept_of(&db, &job.uid).await, Ok(k) if k.launched_by.is_some())
    {
        return;
    }

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
        let text = match pods.logs(&pod, &params).await {
            Ok(text) => text,
            Err(error) => {
                tracing::info!(%error, %pod, "no log to capture");
                continue;
            }
        };
        store::keep_log(&db, &job.uid, &pod, tail(text, CAPTURED_BYTES)).await;
    }
}

/// The end of `text` in at most `most` bytes, from the first whole line within them (or, when
/// one line is longer than that, from the first whole character: logs are UTF-8 from any
/// language, and progress bars print `█`).
fn tail(mut text: String, most: usize) -> String {
    if text.len() <= most {
        return text;
    }
    let cut = text.ceil_char_boundary(text.len() - most);
    let start = text[cut..].find('\n').map_or(cut, |i| cut + i + 1);
    text.split_off(start)
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn a_tail_cut_inside_a_character_starts_at_the_next_one() {
        let bar = "█".repeat(100);
        for most in 1..bar.len() {
            let kept = tail(bar.clone(), most);
            assert!(
                kept.len() <= most && kept.chars().all(|c| c == '█'),
                "{most}"
            );
        }
        let text = "第一行日志\n训练进度 █████ 50%\nエポック 2\n".to_string();
        assert_eq!(tail(text.clone(), 20), "エポック 2\n");
        assert_eq!(tail(text.clone(), text.len()), text);
    }
}
