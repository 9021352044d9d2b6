//! Launch, list, inspect and cancel Jobs (server only). Everything that reads or writes a
//! user's Jobs goes out as that user; lists come from the Job watch, filtered to the
//! namespaces where the cluster lets the user list Jobs.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Namespace, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::Client;

use super::cache::JobInfo;
use super::form::{validate, Context, FieldError, JobForm};
use super::{JobDetail, JobEvent, JobFilter, JobPhase, JobPod, JobRow};
use crate::auth::rules::{Action, Principal};
use crate::auth::server::format_unix;
use crate::error::AppError;
use crate::state::AppState;

/// Namespaces Gantry never offers for jobs.
const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

async fn allowed_in(
    state: &AppState,
    principal: &Principal,
    verb: &str,
    namespace: &str,
) -> Result<bool, AppError> {
    state
        .cluster
        .allowed(
            principal,
            &state.auth.impersonate_groups,
            verb,
            ("batch", "jobs"),
            Some(namespace),
        )
        .await
}

/// 403 unless the cluster lets `principal` list Jobs in `namespace`: what reading a job's
/// history (which outlives the Job and its RBAC check) requires.
async fn may_list_jobs(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
) -> Result<(), AppError> {
    if allowed_in(state, principal, "list", namespace).await? {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "the cluster does not let you list jobs in {namespace}"
        )))
    }
}

/// The namespaces `principal` may create Jobs in, by Gantry's rules and the cluster's. For
/// the launch form only: with every namespace in scope, this LISTs the cluster's namespaces.
async fn launch_namespaces(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<String>, AppError> {
    let candidates: Vec<String> = match &principal.namespaces {
        crate::auth::rules::Namespaces::Only(names) => names.clone(),
        crate::auth::rules::Namespaces::All => {
            let client = state
                .cluster
                .client()
                .ok_or_else(|| AppError::unavailable("Kubernetes", "not connected"))?;
            Api::<Namespace>::all(client)
                .list(&ListParams::default())
                .await
                .map_err(|e| AppError::unavailable("Kubernetes", e.to_string()))?
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .filter(|n| !SYSTEM_NAMESPACES.contains(&n.as_str()))
                .collect()
        }
    };
    let mut namespaces = Vec::new();
    for namespace in candidates {
        if principal
            .check(Action::LaunchJobs, Some(&namespace))
            .is_ok()
            && allowed_in(state, principal, "create", &namespace).await?
        {
            namespaces.push(namespace);
        }
    }
    Ok(namespaces)
}

/// What the launch form offers and checks against: the user's namespaces, the GPU models
/// present and the most of each GPU resource one node has.
pub async fn context(state: &AppState, principal: &Principal) -> Result<Context, AppError> {
    principal.check(Action::LaunchJobs, None)?;
    let namespaces = launch_namespaces(state, principal).await?;
    let index = state.inventory.read()?;
    let mut models: Vec<String> = index.rows.values().map(|r| r.model.clone()).collect();
    models.sort();
    models.dedup();
    let mut largest: Vec<(String, i64)> = Vec::new();
    for row in index.rows.values() {
        for (resource, (allocatable, _)) in &row.resources {
            match largest.iter_mut().find(|(r, _)| r == resource) {
                Some((_, most)) => *most = (*most).max(*allocatable),
                None => largest.push((resource.clone(), *allocatable)),
            }
        }
    }
    largest.sort();
    Ok(Context {
        namespaces,
        models,
        largest,
    })
}

/// The manifest for `form`, or every field's problem.
pub async fn preview(
    state: &AppState,
    principal: &Principal,
    form: &JobForm,
) -> Result<Job, AppError> {
    let context = context(state, principal).await?;
    let checked = validate(form, &context).map_err(|errors| AppError::InvalidFields { errors })?;
    Ok(super::manifest::job(form, &checked, &principal.username))
}

/// Maps the API server's refusal of a Job to the form's fields where it names one.
fn refusal(error: kube::Error, form: &JobForm) -> AppError {
    let kube::Error::Api(status) = error else {
        return AppError::unavailable("Kubernetes", error.to_string());
    };
    match status.code {
        403 if status.message.contains("exceeded quota") => AppError::InvalidFields {
            errors: vec![FieldError::new(
                "gpus",
                format!("the namespace's ResourceQuota refuses: {}", status.message),
            )],
        },
        403 => AppError::forbidden(format!("the cluster refused: {}", status.message)),
        409 => AppError::InvalidFields {
            errors: vec![FieldError::new(
                "name",
                format!(
                    "a job named {:?} already exists in {}",
                    form.name, form.namespace
                ),
            )],
        },
        // Invalid: admission, LimitRange and validation speak through the message; the
        // field path (`spec.template.spec.containers[0].resources…`) is mapped where known.
        422 | 400 => {
            let message = status.message.clone();
            let field = [
                ("resources.limits.cpu", "cpu_limit"),
                ("resources.requests.cpu", "cpu_request"),
                ("resources.limits.memory", "memory_limit"),
                ("resources.requests.memory", "memory_request"),
                ("nvidia.com", "gpus"),
                ("image", "image"),
                ("metadata.name", "name"),
                ("env", "env"),
                ("volumeMounts", "mounts"),
                ("labels", "labels"),
            ]
            .into_iter()
            .find(|(path, _)| message.contains(path))
            .map_or("form", |(_, field)| field);
            AppError::InvalidFields {
                errors: vec![FieldError::new(field, message)],
            }
        }
        _ => AppError::unavailable("Kubernetes", status.message),
    }
}

/// Validates, checks the claims exist, asks the API server for a dry run (admission,
/// ResourceQuota, LimitRange), then creates the Job as the user, records it and audits it.
pub async fn launch(
    state: &AppState,
    principal: &Principal,
    form: JobForm,
) -> Result<JobInfo, AppError> {
    principal.check(Action::LaunchJobs, Some(&form.namespace))?;
    let job = preview(state, principal, &form).await?;
    let client = state
        .cluster
        .client_as(principal, &state.auth.impersonate_groups)?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &form.namespace);
    let mut missing = Vec::new();
    for (i, mount) in form.mounts.iter().enumerate() {
        match claims.get_opt(&mount.claim).await {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(FieldError::new(
                format!("mounts[{i}].claim"),
                format!(
                    "no PersistentVolumeClaim {:?} in {}",
                    mount.claim, form.namespace
                ),
            )),
            Err(e) => return Err(refusal(e, &form)),
        }
    }
    if !missing.is_empty() {
        return Err(AppError::InvalidFields { errors: missing });
    }
    let jobs: Api<Job> = Api::namespaced(client, &form.namespace);
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    jobs.create(&dry_run, &job)
        .await
        .map_err(|e| refusal(e, &form))?;
    let outcome = jobs.create(&PostParams::default(), &job).await;
    crate::audit::attempt(
        &state.db,
        &principal.username,
        "job.launch",
        &format!("job/{}/{}", form.namespace, form.name),
        &format!("{} × {} {}", form.gpus, form.gpu_resource, form.gpu_model),
        &outcome,
    )
    .await?;
    let created = outcome.map_err(|e| refusal(e, &form))?;
    let info = JobInfo::from_job(&created);
    let form_json =
        serde_json::to_string(&form).map_err(|e| AppError::internal("saving a job's form", e))?;
    sqlx::query(
        "INSERT INTO jobs (uid, namespace, name, launched_by, form, created_at, status,
                           gpus_per_pod, gpu_resource, gpu_model, completions)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (uid) DO UPDATE SET launched_by = excluded.launched_by, form = excluded.form",
    )
    .bind(&info.uid)
    .bind(&info.namespace)
    .bind(&info.name)
    .bind(&principal.username)
    .bind(form_json)
    .bind(format_unix(info.created.max(0) as u64))
    .bind(info.phase.as_str())
    .bind(info.gpus_per_pod)
    .bind(&info.gpu_resource)
    .bind(&info.gpu_model)
    .bind(info.completions)
    .execute(&state.db)
    .await
    .map_err(|e| AppError::internal("recording a launched job", e))?;
    Ok(info)
}

/// The scheduler's reason for the first unbound pod of a Job, from the GPU inventory's index.
/// The scheduler's latest reason for each Job with an unbound pod, (namespace, job) →
/// reason, from one pass over the inventory's pending pods.
fn waiting_reasons(state: &AppState) -> HashMap<(String, String), String> {
    let Ok(index) = state.inventory.read() else {
        return HashMap::new();
    };
    index
        .pending
        .iter()
        .filter_map(|key| {
            let pod = index.pods.get(key)?;
            let owner = pod.owner.as_ref().filter(|o| o.kind == "Job")?;
            Some((
                (pod.namespace.clone(), owner.name.clone()),
                pod.unschedulable.clone()?,
            ))
        })
        .collect()
}

fn row(job: &JobInfo, now: i64, waiting: &HashMap<(String, String), String>) -> JobRow {
    let reason = match job.phase {
        JobPhase::Pending => waiting
            .get(&(job.namespace.clone(), job.name.clone()))
            .cloned(),
        _ => job.reason.clone(),
    };
    JobRow {
        kind: "Job".into(),
        namespace: job.namespace.clone(),
        name: job.name.clone(),
        phase: job.phase.clone(),
        reason,
        launched_by: job.launched_by.clone(),
        created: format_unix(job.created.max(0) as u64),
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
    }
}

/// At most this many jobs are listed; the newest first.
pub const LIST_LIMIT: usize = 500;

/// The jobs `principal` may see that match `filter`: those in the cluster, then those only
/// the history remembers.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    filter: &JobFilter,
) -> Result<Vec<JobRow>, AppError> {
    principal.check(Action::View, None)?;
    let now = crate::auth::server::unix_now() as i64;
    let matches = |row: &JobRow| {
        (filter.namespace.is_empty() || row.namespace == filter.namespace)
            && (filter.status.is_empty() || row.phase.as_str() == filter.status)
            && (!filter.mine || row.launched_by.as_deref() == Some(principal.username.as_str()))
            && (filter.search.is_empty() || row.name.contains(filter.search.trim()))
    };
    // Every candidate row first (from the watches and the history, no cluster call), then
    // one access review per namespace and kind they come from (each cached 30 s).
    let mut rows: Vec<JobRow> = {
        let jobs = state.jobs.read()?;
        let waiting = waiting_reasons(state);
        jobs.values().map(|j| row(j, now, &waiting)).collect()
    };
    let live: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.namespace.clone(), r.name.clone()))
        .collect();
    let gone: Vec<HistoryRow> = sqlx::query_as(
        "SELECT namespace, name, launched_by, created_at, status, reason,
                gpus_per_pod, gpu_resource, gpu_model, completions
         FROM jobs WHERE deleted_at IS NOT NULL ORDER BY created_at DESC LIMIT ?",
    )
    .bind(LIST_LIMIT as i64)
    .fetch_all(&state.db)
    .await
    .map_err(|e| AppError::internal("reading the job history", e))?;
    rows.extend(
        gone.into_iter()
            .filter(|h| !live.contains(&(h.namespace.clone(), h.name.clone())))
            .map(HistoryRow::into_row),
    );
    rows.retain(|r| matches(r));
    let groups = &state.auth.impersonate_groups;
    let visible = state
        .cluster
        .namespaces_listing(
            principal,
            groups,
            ("batch", "jobs"),
            rows.iter().map(|r| r.namespace.as_str()),
        )
        .await?;
    rows.retain(|r| visible.contains(&r.namespace));
    // Kubeflow's jobs, where the cluster lets the caller list that kind.
    let kubeflow: Vec<super::kubeflow::KubeflowJob> =
        state.jobs.kubeflow().values().cloned().collect();
    for (group, _, resource) in super::kubeflow::KINDS {
        let of_kind: Vec<&super::kubeflow::KubeflowJob> =
            kubeflow.iter().filter(|j| j.resource == resource).collect();
        let visible = state
            .cluster
            .namespaces_listing(
                principal,
                groups,
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
                    created: format_unix(job.created.max(0) as u64),
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
                })
                .filter(|r| matches(r)),
        );
    }
    rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
    rows.truncate(LIST_LIMIT);
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    namespace: String,
    name: String,
    launched_by: Option<String>,
    created_at: String,
    status: String,
    reason: Option<String>,
    gpus_per_pod: i64,
    gpu_resource: Option<String>,
    gpu_model: Option<String>,
    completions: i64,
}

impl HistoryRow {
    fn into_row(self) -> JobRow {
        JobRow {
            kind: "Job".into(),
            phase: JobPhase::parse(&self.status),
            namespace: self.namespace,
            name: self.name,
            reason: self.reason,
            launched_by: self.launched_by,
            created: self.created_at,
            duration_secs: None,
            gpus_per_pod: self.gpus_per_pod,
            gpu_resource: self.gpu_resource,
            gpu_model: self.gpu_model,
            parallelism: 0,
            completions: self.completions as i32,
            succeeded: 0,
            failed: 0,
            active: 0,
            in_cluster: false,
        }
    }
}

async fn user_client(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
) -> Result<Client, AppError> {
    principal.check(Action::View, Some(namespace))?;
    state
        .cluster
        .client_as(principal, &state.auth.impersonate_groups)
}

fn kube_error(error: kube::Error, what: &str) -> AppError {
    match error {
        kube::Error::Api(status) if status.code == 404 => AppError::not_found(what),
        kube::Error::Api(status) if status.code == 403 => {
            AppError::forbidden(format!("the cluster refused: {}", status.message))
        }
        other => AppError::unavailable("Kubernetes", other.to_string()),
    }
}

/// One job: its row, conditions, pods and events, read as the user.
pub async fn detail(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
    name: &str,
) -> Result<JobDetail, AppError> {
    let client = user_client(state, principal, namespace).await?;
    let what = format!("job {namespace}/{name}");
    let job = match Api::<Job>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
    {
        Ok(Some(job)) => job,
        Ok(None) => return remembered(state, principal, namespace, name).await,
        Err(e) => return Err(kube_error(e, &what)),
    };
    let info = JobInfo::from_job(&job);
    let now = crate::auth::server::unix_now() as i64;
    let selector = format!("job-name={name}");
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| kube_error(e, &what))?;
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
    let names: BTreeSet<&str> = std::iter::once(name)
        .chain(pods.iter().map(|p| p.name.as_str()))
        .collect();
    let mut events: Vec<JobEvent> = Api::<Event>::namespaced(client, namespace)
        .list(&ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e.involved_object
                .name
                .as_deref()
                .is_some_and(|n| names.contains(n))
        })
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
        row: row(&info, now, &waiting_reasons(state)),
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
    })
}

/// A job gone from the cluster, as the history kept it (newest of that name), with its
/// captured logs; 404 when the history never saw it either.
async fn remembered(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
    name: &str,
) -> Result<JobDetail, AppError> {
    may_list_jobs(state, principal, namespace).await?;
    let history: Option<(String, Option<String>, HistoryRow)> = {
        let row: Option<HistoryWithForm> = sqlx::query_as(
            "SELECT uid, form, namespace, name, launched_by, created_at, status, reason,
                    gpus_per_pod, gpu_resource, gpu_model, completions
             FROM jobs WHERE namespace = ? AND name = ? ORDER BY created_at DESC LIMIT 1",
        )
        .bind(namespace)
        .bind(name)
        .fetch_optional(&state.db)
        .await
        .map_err(|e| AppError::internal("reading the job history", e))?;
        row.map(|r| (r.uid, r.form, r.row))
    };
    let Some((uid, form, row)) = history else {
        return Err(AppError::not_found(format!("job {namespace}/{name}")));
    };
    let captured: Vec<(String, String)> =
        sqlx::query_as("SELECT pod, lines FROM job_logs WHERE job_uid = ? ORDER BY pod")
            .bind(&uid)
            .fetch_all(&state.db)
            .await
            .map_err(|e| AppError::internal("reading captured logs", e))?;
    let form: Option<JobForm> = form.and_then(|f| serde_json::from_str(&f).ok());
    Ok(JobDetail {
        row: row.into_row(),
        image: form.as_ref().map(|f| f.image.clone()).unwrap_or_default(),
        command: form
            .as_ref()
            .map(|f| {
                format!("{} {}", f.command, f.args)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        conditions: Vec::new(),
        pods: Vec::new(),
        events: Vec::new(),
        captured: captured
            .into_iter()
            .map(|(pod, lines)| super::CapturedLog { pod, lines })
            .collect(),
    })
}

#[derive(sqlx::FromRow)]
struct HistoryWithForm {
    uid: String,
    form: Option<String>,
    #[sqlx(flatten)]
    row: HistoryRow,
}

/// Deletes the Job and, in the background, its pods; as the user, audited.
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
    name: &str,
) -> Result<(), AppError> {
    principal.check(Action::LaunchJobs, Some(namespace))?;
    let client = user_client(state, principal, namespace).await?;
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    let outcome = Api::<Job>::namespaced(client, namespace)
        .delete(name, &params)
        .await
        .map(|_| ())
        .map_err(|e| kube_error(e, &format!("job {namespace}/{name}")));
    crate::audit::attempt(
        &state.db,
        &principal.username,
        "job.cancel",
        &format!("job/{namespace}/{name}"),
        "delete, background propagation",
        &outcome,
    )
    .await?;
    outcome
}

/// Suspends (or resumes) the Job, as the user, audited: a suspended Job's pods are removed
/// and its GPUs freed until it resumes.
pub async fn set_suspended(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
    name: &str,
    suspend: bool,
) -> Result<(), AppError> {
    principal.check(Action::LaunchJobs, Some(namespace))?;
    let client = user_client(state, principal, namespace).await?;
    let patch = serde_json::json!({ "spec": { "suspend": suspend } });
    let outcome = Api::<Job>::namespaced(client, namespace)
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|e| kube_error(e, &format!("job {namespace}/{name}")));
    crate::audit::attempt(
        &state.db,
        &principal.username,
        if suspend { "job.suspend" } else { "job.resume" },
        &format!("job/{namespace}/{name}"),
        &format!("spec.suspend -> {suspend}"),
        &outcome,
    )
    .await?;
    outcome
}

/// The form a job was launched with (newest launch of that name), for clone and re-run.
pub async fn form_of(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
    name: &str,
) -> Result<JobForm, AppError> {
    principal.check(Action::View, Some(namespace))?;
    may_list_jobs(state, principal, namespace).await?;
    let stored: Option<(String,)> = sqlx::query_as(
        "SELECT form FROM jobs WHERE namespace = ? AND name = ? AND form IS NOT NULL
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(&state.db)
    .await
    .map_err(|e| AppError::internal("reading a job's form", e))?;
    let (form,) = stored.ok_or_else(|| {
        AppError::not_found(format!(
            "a launch form for {namespace}/{name} (only jobs launched through Gantry have one)"
        ))
    })?;
    serde_json::from_str(&form).map_err(|e| AppError::internal("reading a job's form", e))
}

/// Launches the job again under a new name: the original's name with `-rN`, the first free N.
pub async fn rerun(
    state: &AppState,
    principal: &Principal,
    namespace: &str,
    name: &str,
) -> Result<JobInfo, AppError> {
    let mut form = form_of(state, principal, namespace, name).await?;
    let base: String = name
        .chars()
        .take(56)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    let taken: BTreeSet<String> = state
        .jobs
        .read()?
        .keys()
        .filter(|(ns, _)| ns == namespace)
        .map(|(_, n)| n.clone())
        .collect();
    form.name = (2..1000)
        .map(|n| format!("{base}-r{n}"))
        .find(|candidate| !taken.contains(candidate))
        .ok_or_else(|| AppError::Conflict {
            reason: "no free name for a re-run".into(),
        })?;
    launch(state, principal, form).await
}

/// The caller's templates (a template is its owner's alone).
pub async fn templates(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<super::Template>, AppError> {
    principal.check(Action::LaunchJobs, None)?;
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, name, updated_at FROM job_templates WHERE owner = ? ORDER BY name",
    )
    .bind(&principal.username)
    .fetch_all(&state.db)
    .await
    .map_err(|e| AppError::internal("reading templates", e))?;
    Ok(rows
        .into_iter()
        .map(|(id, name, updated_at)| super::Template {
            id,
            name,
            updated_at,
        })
        .collect())
}

pub async fn template(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<JobForm, AppError> {
    principal.check(Action::LaunchJobs, None)?;
    let form: Option<(String,)> =
        sqlx::query_as("SELECT form FROM job_templates WHERE id = ? AND owner = ?")
            .bind(id)
            .bind(&principal.username)
            .fetch_optional(&state.db)
            .await
            .map_err(|e| AppError::internal("reading a template", e))?;
    let (form,) = form.ok_or_else(|| AppError::not_found("template"))?;
    serde_json::from_str(&form).map_err(|e| AppError::internal("reading a template", e))
}

/// Saves the form as it is, unchecked: a template may be half filled in.
pub async fn save_template(
    state: &AppState,
    principal: &Principal,
    name: &str,
    form: &JobForm,
) -> Result<(), AppError> {
    principal.check(Action::LaunchJobs, None)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "1 to 100 characters, no control characters",
        ));
    }
    let form =
        serde_json::to_string(form).map_err(|e| AppError::internal("saving a template", e))?;
    sqlx::query(
        "INSERT INTO job_templates (owner, name, form, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (owner, name) DO UPDATE SET form = excluded.form, updated_at = excluded.updated_at",
    )
    .bind(&principal.username)
    .bind(name)
    .bind(form)
    .bind(crate::auth::server::now_rfc3339())
    .execute(&state.db)
    .await
    .map_err(|e| AppError::internal("saving a template", e))?;
    Ok(())
}
