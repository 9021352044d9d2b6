//! The one path by which the Job watch writes the history (server only): the watch hands
//! each change over without waiting, and one writer task puts them into the database, the
//! latest state of each Job winning, retrying what failed. After every (re)list it marks the
//! rows of Jobs no longer in the cluster as gone, with how they ended when the cluster's
//! events still say so: a Job that finished and was TTL-deleted while Gantry was stopped is
//! not left "Running" for ever. Only the leading replica writes: a follower drops what it
//! is handed (the leader writes it), and on taking over writes the whole current listing,
//! which covers whatever the replica before it had not written when it died. A Job that
//! ended or left takes its pods' MLflow token with it (`jobs::tracking`), and ends its
//! MLflow run as it ended if its code did not.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};

use super::info::JobInfo;
use super::{store, JobPhase};
use crate::auth::token_store;
use crate::db::Db;
use crate::leader::Leadership;

/// The first and the longest pause before failed writes are tried again.
const RETRY: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));

/// Writes waiting for the writer, by Job uid. Bounded by the Jobs in the cluster: a Job's
/// newer state replaces its older one.
#[derive(Default)]
struct Pending {
    records: HashMap<String, JobInfo>,
    gone: HashMap<String, JobInfo>,
    /// The uids a (re)list found, when one came in since the last reconcile.
    listed: Option<HashSet<String>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.gone.is_empty() && self.listed.is_none()
    }

    /// Puts back what failed, unless something newer arrived meanwhile.
    fn restore(&mut self, failed: Pending) {
        for (uid, info) in failed.records {
            self.records.entry(uid).or_insert(info);
        }
        for (uid, info) in failed.gone {
            self.gone.entry(uid).or_insert(info);
        }
        if self.listed.is_none() {
            self.listed = failed.listed;
        }
    }
}

/// The history's writer; cheap to clone.
#[derive(Clone)]
pub struct History {
    pending: Arc<Mutex<Pending>>,
    wake: Arc<tokio::sync::Notify>,
}

impl History {
    /// Starts the writer on `db`; `client` reads the events of Jobs found gone, `current`
    /// lists the Jobs in the cluster now (once the watch has listed them).
    pub fn start(
        db: Db,
        client: kube::Client,
        leader: Leadership,
        current: impl Fn() -> Option<Vec<JobInfo>> + Send + 'static,
    ) -> History {
        let history = History {
            pending: Arc::default(),
            wake: Arc::default(),
        };
        tokio::spawn(write(history.clone(), db, client, leader, current));
        history
    }

    fn hand_over(&self, change: impl FnOnce(&mut Pending)) {
        change(&mut crate::locks::lock(&self.pending));
        self.wake.notify_one();
    }

    /// The Job as the watch sees it now.
    pub fn record(&self, info: JobInfo) {
        self.hand_over(|p| {
            p.gone.remove(&info.uid);
            p.records.insert(info.uid.clone(), info);
        });
    }

    /// The Job was deleted (its last state).
    pub fn gone(&self, info: JobInfo) {
        self.hand_over(|p| {
            p.records.remove(&info.uid);
            p.gone.insert(info.uid.clone(), info);
        });
    }

    /// A complete listing: each Job in it recorded, every other row marked gone.
    pub fn listed(&self, all: &[JobInfo]) {
        self.hand_over(|p| {
            for info in all {
                p.gone.remove(&info.uid);
                p.records.insert(info.uid.clone(), info.clone());
            }
            p.listed = Some(all.iter().map(|i| i.uid.clone()).collect());
        });
    }
}

/// The writer: takes everything pending, writes it, and on a failure puts it back and waits
/// (0.5 s, doubling to 30 s) before trying again; while another replica leads, waits.
async fn write(
    history: History,
    db: Db,
    client: kube::Client,
    mut leader: Leadership,
    current: impl Fn() -> Option<Vec<JobInfo>>,
) {
    let mut retry = RETRY.0;
    loop {
        if !leader.is_leader() {
            drop(std::mem::take(&mut *crate::locks::lock(&history.pending)));
            tokio::select! {
                _ = leader.changed() => {}
                _ = history.wake.notified() => {}
            }
            if leader.is_leader() {
                if let Some(all) = current() {
                    tracing::info!(
                        jobs = all.len(),
                        "leading: writing the job history from the current listing"
                    );
                    history.listed(&all);
                }
            }
            continue;
        }
        let work = std::mem::take(&mut *crate::locks::lock(&history.pending));
        if work.is_empty() {
            history.wake.notified().await;
            continue;
        }
        let failed = apply(&db, &client, work).await;
        if failed.is_empty() {
            retry = RETRY.0;
            continue;
        }
        tracing::warn!(
            records = failed.records.len() + failed.gone.len(),
            ?retry,
            "job history writes failed; trying again"
        );
        crate::locks::lock(&history.pending).restore(failed);
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY.1);
    }
}

/// Writes `work`; what failed comes back.
async fn apply(db: &Db, client: &kube::Client, mut work: Pending) -> Pending {
    let mut failed = Pending::default();
    for (uid, info) in work.records.drain() {
        let ended = matches!(info.phase, JobPhase::Succeeded | JobPhase::Failed);
        let written = match store::record(db, &info).await {
            Ok(()) if ended => after_end(db, &uid, run_status(Some(&info.phase))).await,
            other => other,
        };
        if written.is_err() {
            failed.records.insert(uid, info);
        }
    }
    for (uid, info) in work.gone.drain() {
        let written = match store::record(db, &info).await {
            Ok(()) => store::gone(db, &uid, None).await,
            Err(e) => Err(e),
        };
        let written = match written {
            Ok(()) => after_end(db, &uid, run_status(Some(&info.phase))).await,
            Err(e) => Err(e),
        };
        if written.is_err() {
            failed.gone.insert(uid, info);
        }
    }
    if let Some(live) = work.listed.take() {
        if reconcile(db, client, &live).await.is_err() {
            failed.listed = Some(live);
        }
    }
    failed
}

/// Marks gone every row whose Job is not in `live`, with how it ended when its events say.
async fn reconcile(
    db: &Db,
    client: &kube::Client,
    live: &HashSet<String>,
) -> Result<(), crate::error::AppError> {
    for (uid, namespace, name) in store::not_gone(db).await? {
        if live.contains(&uid) {
            continue;
        }
        // A listing is a moment's picture: a Job launched since it was taken is not in it
        // but is in the cluster (and its row already written by the launch).
        let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
        match jobs.get_opt(&name).await {
            Ok(Some(job)) if job.metadata.uid.as_deref() == Some(uid.as_str()) => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::info!(%error, %namespace, %name, "reconcile: cannot tell whether a job is gone");
                continue;
            }
        }
        let ended = how_it_ended(client, &namespace, &uid).await;
        let status = run_status(match ended {
            store::Ended::Succeeded => Some(&JobPhase::Succeeded),
            store::Ended::Failed(_) => Some(&JobPhase::Failed),
            store::Ended::Unseen => None,
        });
        store::gone(db, &uid, Some(ended)).await?;
        after_end(db, &uid, status).await?;
    }
    Ok(())
}

/// What follows a Job's end once its row says so: its run, if its code did not end it (a
/// crash, an eviction, a deletion), ends as the Job did, and its pods' MLflow token is
/// revoked. In that order: a refused token then means that all of it is written.
async fn after_end(db: &Db, uid: &str, run_status: &str) -> Result<(), crate::error::AppError> {
    let now_ms = crate::time::unix_now_ms();
    crate::models::store::end_job_run(db, uid, run_status, now_ms).await?;
    token_store::revoke_for_job(db, uid).await
}

/// MLflow's status for the run of a Job that ended in `phase`: `KILLED` for one stopped
/// before it finished, or whose end is unknown.
fn run_status(phase: Option<&JobPhase>) -> &'static str {
    match phase {
        Some(JobPhase::Succeeded) => "FINISHED",
        Some(JobPhase::Failed) => "FAILED",
        _ => "KILLED",
    }
}

/// How a Job no longer in the cluster ended, from the events the Job controller left (they
/// outlive the Job by an hour by default): `Completed`, or a failure with its reason.
async fn how_it_ended(client: &kube::Client, namespace: &str, uid: &str) -> store::Ended {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().fields(&format!("involvedObject.uid={uid}"));
    let Ok(list) = events.list(&params).await else {
        return store::Ended::Unseen;
    };
    let mut events = list.items;
    events.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
    events
        .iter()
        .rev()
        .find_map(|e| match e.reason.as_deref() {
            Some("Completed" | "SuccessCriteriaMet") => Some(store::Ended::Succeeded),
            Some(
                reason @ ("BackoffLimitExceeded"
                | "DeadlineExceeded"
                | "PodFailurePolicy"
                | "FailedIndexes"
                | "MaxFailedIndexesExceeded"),
            ) => Some(store::Ended::Failed(format!(
                "{reason}: {}",
                e.message.clone().unwrap_or_default()
            ))),
            _ => None,
        })
        .unwrap_or(store::Ended::Unseen)
}
