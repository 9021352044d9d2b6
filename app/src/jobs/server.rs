//! The jobs list and one job, as the caller may see them (server only). Lists come from the
//! Job watch and the history, filtered to the namespaces where the cluster lets the caller
//! list Jobs; one job is read from the API server as the caller.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};

use super::form::JobForm;
use super::info::JobInfo;
use super::{
    kubeflow, store, CapturedLog, JobDetail, JobEvent, JobFilter, JobList, JobPhase, JobPod, JobRow,
};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;
use crate::time::{format_secs, format_unix, unix_now};

/// Whether the cluster lets the caller `verb` Jobs in `namespace`.
pub(super) async fn allowed_in(
    state: &AppState,
    caller: &Caller,
    verb: &str,
    namespace: &str,
) -> Result<bool, AppError> {
    state
        .cluster
        .allowed(caller, verb, ("batch", "jobs"), Some(namespace))
        .await
}

/// 403 unless the cluster lets the caller list Jobs in `namespace`: what reading a job's
/// history (which outlives the Job and its RBAC check) requires.
pub async fn may_list_jobs(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
) -> Result<(), AppError> {
    if allowed_in(state, caller, "list", namespace).await? {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "the cluster does not let you list jobs in {namespace}"
        )))
    }
}

/// What the inventory's pods say of the Jobs that own them.
#[derive(Debug, Default)]
pub(super) struct PodsSeen {
    /// (namespace, job) of the Jobs with a pod bound and running.
    running: BTreeSet<(String, String)>,
    /// The scheduler's latest reason for each Job with an unbound pod.
    waiting: HashMap<(String, String), String>,
}

impl PodsSeen {
    /// What the inventory says of the Jobs in `pending` (the others' phase is settled by
    /// their own status): its count of running pods per Job, and one pass over its unbound
    /// GPU pods, never over every pod.
    pub(super) fn of(state: &AppState, pending: &BTreeSet<(String, String)>) -> PodsSeen {
        let mut seen = PodsSeen::default();
        if pending.is_empty() {
            return seen;
        }
        let Ok(index) = state.inventory.read() else {
            return seen;
        };
        seen.running = pending
            .iter()
            .filter(|job| index.running_jobs.contains_key(*job))
            .cloned()
            .collect();
        for pod in index.pending.iter().filter_map(|key| index.pods.get(key)) {
            let Some(owner) = pod.owner.as_ref().filter(|o| o.kind == "Job") else {
                continue;
            };
            let key = (pod.namespace.clone(), owner.name.clone());
            if let (true, Some(reason)) = (pending.contains(&key), &pod.unschedulable) {
                seen.waiting.insert(key, reason.clone());
            }
        }
        seen
    }

    /// Whether a pod of the Job `key` runs, and the scheduler's reason while one waits.
    pub(super) fn of_job(&self, key: &(String, String)) -> (bool, Option<String>) {
        (self.running.contains(key), self.waiting.get(key).cloned())
    }

    /// The pending Jobs among `jobs`, whose pods decide their phase.
    pub(super) fn pending<'a>(
        jobs: impl Iterator<Item = &'a JobInfo>,
    ) -> BTreeSet<(String, String)> {
        jobs.filter(|j| j.phase == JobPhase::Pending)
            .map(|j| (j.namespace.clone(), j.name.clone()))
            .collect()
    }
}

/// The list's row for a Job in the cluster; `launched_by` from Gantry's own history.
fn row(job: &JobInfo, now: i64, pods: &PodsSeen, kept: store::Kept) -> JobRow {
    let key = (job.namespace.clone(), job.name.clone());
    let phase = super::info::with_pods(job.phase.clone(), pods.running.contains(&key));
    // The scheduler's reason only while no pod runs.
    let reason = match phase {
        JobPhase::Pending => pods.waiting.get(&key).cloned(),
        _ => job.reason.clone(),
    };
    JobRow {
        kind: "Job".into(),
        namespace: job.namespace.clone(),
        name: job.name.clone(),
        phase,
        reason,
        launched_by: kept.launched_by,
        created: format_secs(job.created),
        duration_secs: job.started.map(|s| job.finished.unwrap_or(now) - s),
        gpus_per_pod: job.gpus_per_pod,
        gpu_resource: job.gpu_resource.clone(),
        gpu_model: job.gpu_model.clone(),
        parallelism: job.parallelism,
        completions: job.completions,
        succeeded: job.succeeded,
        failed: job.failed,
        active: job.active,
        in_cluster: true,
        gpu_use: kept.gpu_use,
        key_metric: None,
    }
}

/// At most this many jobs are listed; the newest first.
pub const LIST_LIMIT: usize = 500;

/// The jobs the caller may see that match `filter`: those in the cluster, then those only
/// the history remembers.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    filter: &JobFilter,
) -> Result<Vec<JobRow>, AppError> {
    caller.check(Action::View, None)?;
    if !filter.namespace.is_empty() {
        crate::names::check_namespace("namespace", &filter.namespace)?;
    }
    let now = unix_now() as i64;
    let matches = |row: &JobRow| {
        (filter.namespace.is_empty() || row.namespace == filter.namespace)
            && (filter.status.is_empty() || row.phase.as_str() == filter.status)
            && (!filter.mine || row.launched_by.as_deref() == Some(caller.username.as_str()))
            && (filter.search.is_empty() || row.name.contains(filter.search.trim()))
    };
    // Every candidate row first (from the watches and the history, no cluster call), then
    // one access review per namespace and kind they come from (each cached 30 s).
    let kept = store::kept(&state.db).await?;
    let mut rows: Vec<JobRow> = {
        let jobs = state.jobs.read()?;
        let pods = PodsSeen::of(state, &PodsSeen::pending(jobs.values()));
        jobs.values()
            .map(|j| row(j, now, &pods, kept.get(&j.uid).cloned().unwrap_or_default()))
            .collect()
    };
    let live: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.namespace.clone(), r.name.clone()))
        .collect();
    let gone = store::gone_jobs(&state.db, LIST_LIMIT).await?;
    rows.extend(
        gone.into_iter()
            .filter(|h| !live.contains(&(h.namespace.clone(), h.name.clone())))
            .map(store::HistoryRow::into_row),
    );
    rows.retain(|r| matches(r));
    let visible = state
        .cluster
        .namespaces_listing(
            caller,
            ("batch", "jobs"),
            rows.iter().map(|r| r.namespace.as_str()),
        )
        .await?;
    rows.retain(|r| visible.contains(&r.namespace));
    // Kubeflow's jobs, where the cluster lets the caller list that kind.
    let kubeflow: Vec<kubeflow::KubeflowJob> = state.jobs.kubeflow().values().cloned().collect();
    for (group, _, resource) in kubeflow::KINDS {
        let of_kind: Vec<&kubeflow::KubeflowJob> =
            kubeflow.iter().filter(|j| j.resource == resource).collect();
        let visible = state
            .cluster
            .namespaces_listing(
                caller,
                (group, resource),
                of_kind.iter().map(|j| j.namespace.as_str()),
            )
            .await?;
        rows.extend(
            of_kind
                .into_iter()
                .filter(|j| visible.contains(&j.namespace))
                .map(|job| JobRow {
                    kind: job.kind.clone(),
                    namespace: job.namespace.clone(),
                    name: job.name.clone(),
                    phase: job.phase.clone(),
                    reason: job.reason.clone(),
                    launched_by: None,
                    created: format_secs(job.created),
                    duration_secs: None,
                    gpus_per_pod: job.gpus_per_pod,
                    gpu_resource: (job.gpus_per_pod > 0).then(|| "nvidia.com/gpu".to_string()),
                    gpu_model: None,
                    parallelism: job.pods,
                    completions: 1,
                    succeeded: 0,
                    failed: 0,
                    active: 0,
                    in_cluster: true,
                    gpu_use: None,
                    key_metric: None,
                })
                .filter(|r| matches(r)),
        );
    }
    rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
    rows.truncate(LIST_LIMIT);
    with_key_metrics(state, &mut rows).await?;
    Ok(rows)
}

/// Gives each Job of `rows` launched with tracking on its run's key metric: one statement for
/// the newest [`LIST_LIMIT`] tracked runs, the newest run of a name winning (a name used
/// again is a new run).
async fn with_key_metrics(state: &AppState, rows: &mut [JobRow]) -> Result<(), AppError> {
    let mut latest: HashMap<(String, String), (String, String)> = HashMap::new();
    for m in crate::models::store::jobs_key_metrics(&state.db, LIST_LIMIT).await? {
        let value = if m.nan == 1 { f64::NAN } else { m.value };
        latest
            .entry((m.namespace, m.name))
            .or_insert_with(|| (m.key, crate::models::server::metric_text(value)));
    }
    for row in rows.iter_mut().filter(|r| r.kind == "Job") {
        row.key_metric = latest.remove(&(row.namespace.clone(), row.name.clone()));
    }
    Ok(())
}

/// The list and its staleness, as the jobs stream sends it.
pub async fn list_page(
    state: &AppState,
    caller: &Caller,
    filter: &JobFilter,
) -> Result<JobList, AppError> {
    Ok(JobList {
        rows: list(state, caller, filter).await?,
        stale_since: state.jobs.stale_since().map(format_unix),
    })
}

/// When `namespace/name` ran, in seconds since the epoch: its start (or creation, while it
/// waits) and its end, from the watch while it is in the cluster, else from the history (its
/// newest run of that name); 404 when neither knows it.
pub async fn run_of(
    state: &AppState,
    namespace: &str,
    name: &str,
) -> Result<(i64, Option<i64>), AppError> {
    let live = state
        .jobs
        .read()?
        .get(&(namespace.to_string(), name.to_string()))
        .map(|j| (j.started.unwrap_or(j.created), j.finished));
    if let Some(run) = live {
        return Ok(run);
    }
    match store::remembered(&state.db, namespace, name).await? {
        Some(kept) => Ok(kept.row.run()),
        None => Err(AppError::not_found(format!("job {namespace}/{name}"))),
    }
}

/// One job: its row, conditions, pods and events, read as the user.
pub async fn detail(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> Result<JobDetail, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::View, Some(namespace))?;
    let client = state.cluster.as_user(caller)?;
    let what = format!("job {namespace}/{name}");
    let job = match Api::<Job>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
    {
        Ok(Some(job)) => job,
        Ok(None) => return remembered(state, caller, namespace, name).await,
        Err(e) => return Err(AppError::from_kube(e, &what)),
    };
    let info = JobInfo::from_job(&job);
    let now = unix_now() as i64;
    let selector = format!("job-name={name}");
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| AppError::from_kube(e, &what))?;
    let pods: Vec<JobPod> = pods
        .items
        .into_iter()
        .map(|p| {
            let status = p.status.unwrap_or_default();
            JobPod {
                name: p.metadata.name.unwrap_or_default(),
                phase: status.phase.unwrap_or_default(),
                node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                restarts: status
                    .container_statuses
                    .iter()
                    .flatten()
                    .map(|c| c.restart_count)
                    .sum(),
                containers: p
                    .spec
                    .map(|s| s.containers.into_iter().map(|c| c.name).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    // This job's pods, as the caller just read them, decide its phase.
    let key = (namespace.to_string(), name.to_string());
    let mut pods_seen = PodsSeen::of(state, &PodsSeen::pending(std::iter::once(&info)));
    if pods
        .iter()
        .any(|p| p.phase == "Running" && p.node.is_some())
    {
        pods_seen.running.insert(key);
    }
    // The events of the Job and of its first pods only, each asked for by name: a namespace
    // with thousands of events costs no more than one with none.
    let names: BTreeSet<&str> = std::iter::once(name)
        .chain(pods.iter().map(|p| p.name.as_str()).take(EVENT_PODS))
        .collect();
    let events_api = Api::<Event>::namespaced(client, namespace);
    let lists = futures::future::join_all(names.iter().map(|object| {
        let params = ListParams::default()
            .fields(&format!("involvedObject.name={object}"))
            .limit(EVENTS_PER_OBJECT);
        let api = events_api.clone();
        async move { api.list(&params).await }
    }))
    .await;
    let mut events: Vec<JobEvent> = lists
        .into_iter()
        .filter_map(Result::ok)
        .flat_map(|list| list.items)
        .map(|e| JobEvent {
            object: format!(
                "{}/{}",
                e.involved_object.kind.unwrap_or_default(),
                e.involved_object.name.unwrap_or_default()
            ),
            kind: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            last_seen: e
                .last_timestamp
                .map(|t| t.0)
                .or(e.event_time.map(|t| t.0))
                .or(e.metadata.creation_timestamp.map(|t| t.0))
                .map(|t| t.to_string())
                .unwrap_or_default(),
        })
        .collect();
    events.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
    let conditions = job
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            format!(
                "{}={}{}",
                c.type_,
                c.status,
                c.reason.map(|r| format!(" ({r})")).unwrap_or_default()
            )
        })
        .collect();
    let container = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first());
    Ok(JobDetail {
        row: row(
            &info,
            now,
            &pods_seen,
            store::kept_of(&state.db, &info.uid).await?,
        ),
        image: container.and_then(|c| c.image.clone()).unwrap_or_default(),
        command: container
            .map(|c| {
                c.command
                    .iter()
                    .flatten()
                    .chain(c.args.iter().flatten())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        conditions,
        pods,
        events,
        captured: Vec::new(),
        run_id: crate::models::store::run_of_job(&state.db, &info.uid).await?,
    })
}

/// A job's page shows the events of the Job and of this many of its pods, and at most this
/// many events of each.
const EVENT_PODS: usize = 20;
const EVENTS_PER_OBJECT: u32 = 100;

/// A job gone from the cluster, as the history kept it (newest of that name), with its
/// captured logs; 404 when the history never saw it either.
async fn remembered(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> Result<JobDetail, AppError> {
    may_list_jobs(state, caller, namespace).await?;
    let Some(store::Remembered { uid, form, row }) =
        store::remembered(&state.db, namespace, name).await?
    else {
        return Err(AppError::not_found(format!("job {namespace}/{name}")));
    };
    // Captured logs are logs: only for those the cluster lets read pods' logs here.
    let captured = if state
        .cluster
        .allowed(caller, "get", ("", "pods/log"), Some(namespace))
        .await?
    {
        store::kept_logs(&state.db, &uid).await?
    } else {
        Vec::new()
    };
    let form: Option<JobForm> = form.and_then(|f| serde_json::from_str(&f).ok());
    Ok(JobDetail {
        row: row.into_row(),
        image: form.as_ref().map(|f| f.image.clone()).unwrap_or_default(),
        command: form.as_ref().map(JobForm::command_line).unwrap_or_default(),
        conditions: Vec::new(),
        pods: Vec::new(),
        events: Vec::new(),
        captured: captured
            .into_iter()
            .map(|(pod, lines)| CapturedLog { pod, lines })
            .collect(),
        run_id: crate::models::store::run_of_job(&state.db, &uid).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(name: &str) -> JobInfo {
        JobInfo {
            namespace: "team-a".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            created: 0,
            started: Some(0),
            finished: None,
            phase: JobPhase::Pending,
            reason: None,
            gpus_per_pod: 1,
            gpu_resource: Some(crate::names::GPU.into()),
            gpu_model: None,
            parallelism: 1,
            completions: 1,
            active: 1,
            succeeded: 0,
            failed: 0,
        }
    }

    /// Seen in the demo: a Job whose `status.ready` was 0 while its pod ran on a node for
    /// minutes was listed as Pending.
    #[test]
    fn a_job_with_a_running_pod_is_running_and_a_waiting_one_says_why() {
        let key = |name: &str| ("team-a".to_string(), name.to_string());
        let pods = PodsSeen {
            running: [key("runs")].into(),
            waiting: [(key("waits"), "0/3 nodes are available".to_string())].into(),
        };
        let runs = row(&pending("runs"), 10, &pods, store::Kept::default());
        assert_eq!((runs.phase, runs.reason), (JobPhase::Running, None));
        let waits = row(&pending("waits"), 10, &pods, store::Kept::default());
        assert_eq!(
            (waits.phase, waits.reason.as_deref()),
            (JobPhase::Pending, Some("0/3 nodes are available"))
        );
    }
}
