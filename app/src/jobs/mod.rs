//! Training jobs: launch a GPU job from a form, follow it live from Pending to done, read
//! its logs, cancel it, and find it in the history after the cluster has forgotten it.
//!
//! `form` (the launch form and its validation, pure, also in the wasm), `manifest` (the Job
//! it becomes), `info` (what is kept of a Job), `cache` (the Job watch), `history` (the one
//! writer of the watch's changes into the history), `kubeflow` (PyTorchJob and TrainJob,
//! listed read-only when installed), `store` (the history, captured logs and templates tables),
//! `server` (the list and one job, as the user), `actions` (launch, cancel, suspend,
//! re-run, templates, as the user), `tracking` (a launched job's MLflow run, its variables and
//! token), `lineage` (a job as a model version's lineage names it), `api` (the JSON API and
//! streams), `stream` (the live feeds), `logs` (streamed
//! logs), `log_reader` (bounded lines and chunks of a log), `pages`.

#[cfg(feature = "ssr")]
pub mod actions;
#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod cache;
pub mod form;
#[cfg(feature = "ssr")]
pub mod gpu_use;
#[cfg(feature = "ssr")]
pub mod history;
#[cfg(feature = "ssr")]
pub mod info;
#[cfg(feature = "ssr")]
pub mod kubeflow;
#[cfg(feature = "ssr")]
pub mod lineage;
#[cfg(feature = "ssr")]
pub mod log_reader;
pub mod logs;
#[cfg(feature = "ssr")]
pub mod manifest;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod stream;
#[cfg(feature = "ssr")]
pub mod tracking;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::rules::Action;
use crate::error::AppError;
use form::{Context, JobForm};

/// Where a job stands, as a person would say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Suspended,
}

impl JobPhase {
    pub fn as_str(&self) -> &'static str {
        match self {
            JobPhase::Pending => "Pending",
            JobPhase::Running => "Running",
            JobPhase::Succeeded => "Succeeded",
            JobPhase::Failed => "Failed",
            JobPhase::Suspended => "Suspended",
        }
    }

    /// Reads what [`JobPhase::as_str`] wrote; anything else is Pending.
    pub fn parse(text: &str) -> JobPhase {
        match text {
            "Running" => JobPhase::Running,
            "Succeeded" => JobPhase::Succeeded,
            "Failed" => JobPhase::Failed,
            "Suspended" => JobPhase::Suspended,
            _ => JobPhase::Pending,
        }
    }
}

/// One job in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    /// `Job`, or a Kubeflow kind (`PyTorchJob`, `TrainJob`), listed read-only.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub phase: JobPhase,
    /// Pending: the scheduler's reason; Failed: the Job's.
    pub reason: Option<String>,
    pub launched_by: Option<String>,
    pub created: String,
    pub duration_secs: Option<i64>,
    pub gpus_per_pod: i64,
    pub gpu_resource: Option<String>,
    pub gpu_model: Option<String>,
    pub parallelism: i32,
    pub completions: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub active: i32,
    /// False once the Job is gone from the cluster and only the history has it.
    pub in_cluster: bool,
    /// Measured from Prometheus once the job ended (`jobs::gpu_use`).
    pub gpu_use: Option<GpuUse>,
    /// `(key, latest value)` of the key metric its MLflow run logged, for a job launched
    /// with tracking on (`models::KEY_METRIC_TAG`).
    pub key_metric: Option<(String, String)>,
}

/// A job's GPUs as its pages say it: `2 × gpu (NVIDIA-A100)` a pod, or `none`.
pub fn gpus_text(per_pod: i64, resource: Option<&str>, model: Option<&str>) -> String {
    match (resource, per_pod) {
        (_, 0) => "none".to_string(),
        (Some(resource), n) => {
            let model = model.unwrap_or("any model");
            format!(
                "{n} × {} ({model})",
                resource.trim_start_matches("nvidia.com/")
            )
        }
        (None, n) => n.to_string(),
    }
}

/// What a finished job did with its GPUs, stored in its history row so that it outlives
/// Prometheus' retention.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GpuUse {
    /// GPUs held × time, in hours.
    pub gpu_hours: f64,
    /// Their mean utilisation over that time, in percent: the job's GPU efficiency.
    pub mean_percent: f64,
}

/// The list's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobFilter {
    pub namespace: String,
    /// A [`JobPhase`] name, or empty for all.
    pub status: String,
    /// Only jobs the caller launched.
    pub mine: bool,
    /// A substring of the name.
    pub search: String,
}

/// A pod of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPod {
    pub name: String,
    pub phase: String,
    pub node: Option<String>,
    pub restarts: i32,
    pub containers: Vec<String>,
}

/// An event about the job or one of its pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    pub object: String,
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub last_seen: String,
}

/// A pod's last log lines, captured when its job finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedLog {
    pub pod: String,
    pub lines: String,
}

/// Everything the job's page shows besides its live logs. For a job gone from the cluster,
/// what the history kept: its row, and the captured logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub row: JobRow,
    pub image: String,
    pub command: String,
    pub conditions: Vec<String>,
    pub pods: Vec<JobPod>,
    pub events: Vec<JobEvent>,
    pub captured: Vec<CapturedLog>,
    /// The MLflow run Gantry created for it, when launched with tracking on.
    pub run_id: Option<String>,
}

/// The Job that trained a model version, as the jobs history keeps it: what the version's
/// page shows of where the model came from, after the Job has left the cluster too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLineage {
    pub namespace: String,
    pub name: String,
    pub phase: JobPhase,
    /// Empty for a Job not launched from Gantry's form (the history keeps no form of it).
    pub image: String,
    pub command: String,
    pub gpus_per_pod: i64,
    pub gpu_resource: Option<String>,
    pub gpu_model: Option<String>,
    pub completions: i64,
    /// `claim → path` of each volume the form mounted (the training data), `(read-only)`
    /// marked.
    pub volumes: Vec<String>,
    /// From its start to its end; none before it ended.
    pub duration_secs: Option<i64>,
    /// Measured once it ended (`jobs::gpu_use`); none before, or when Prometheus had none.
    pub gpu_hours: Option<f64>,
}

/// What the jobs list's stream sends: the rows, and since when they may be out of date.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    pub rows: Vec<JobRow>,
    /// Set while a watch (Jobs, Kubeflow's kinds) is failing: the time of the last known
    /// state.
    pub stale_since: Option<String>,
}

/// What the launch form offers: the caller's namespaces, the GPU models and the most of each
/// GPU resource one node has.
#[server(endpoint = "jobs/context")]
pub async fn get_launch_context() -> Result<Context, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    actions::context(&state, &caller).await
}

/// The exact manifest the form would create, or every field's problem.
#[server(endpoint = "jobs/preview", input = server_fn::codec::Json)]
pub async fn preview_job(form: JobForm) -> Result<String, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    let job = actions::preview(&state, &caller, &form).await?;
    serde_json::to_string_pretty(&job).map_err(|e| AppError::internal("showing a manifest", e))
}

/// Launches the job as the caller: validated by Gantry, then by the API server (dry run),
/// then created and audited. Answers the job's namespace and name.
#[server(endpoint = "jobs/launch", input = server_fn::codec::Json)]
pub async fn launch_job(form: JobForm) -> Result<(String, String), AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    let job =
        crate::state::to_completion(async move { actions::launch(&state, &caller, form).await })
            .await?;
    Ok((job.namespace, job.name))
}

#[server(endpoint = "jobs/detail")]
pub async fn get_job(namespace: String, name: String) -> Result<JobDetail, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::detail(&state, &caller, &namespace, &name).await
}

/// Cancels the job (deletes it; its pods follow in the background), as the caller.
#[server(endpoint = "jobs/cancel")]
pub async fn cancel_job(namespace: String, name: String) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    crate::state::to_completion(
        async move { actions::cancel(&state, &caller, &namespace, &name).await },
    )
    .await
}

/// Suspends or resumes the job, as the caller.
#[server(endpoint = "jobs/suspend")]
pub async fn suspend_job(namespace: String, name: String, suspend: bool) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    crate::state::to_completion(async move {
        actions::set_suspended(&state, &caller, &namespace, &name, suspend).await
    })
    .await
}

/// The form a job was launched with, to launch a copy.
#[server(endpoint = "jobs/form")]
pub async fn get_job_form(namespace: String, name: String) -> Result<JobForm, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    actions::form_of(&state, &caller, &namespace, &name).await
}

/// Launches the job again, unchanged, under a new name; answers that name.
#[server(endpoint = "jobs/rerun")]
pub async fn rerun_job(namespace: String, name: String) -> Result<String, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    let job = crate::state::to_completion(async move {
        actions::rerun(&state, &caller, &namespace, &name).await
    })
    .await?;
    Ok(job.name)
}

/// A saved launch form, as the template list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub updated_at: String,
}

/// The caller's templates, by name.
#[server(endpoint = "jobs/templates")]
pub async fn list_templates() -> Result<Vec<Template>, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    actions::templates(&state, &caller).await
}

/// One of the caller's templates.
#[server(endpoint = "jobs/template")]
pub async fn get_template(id: i64) -> Result<JobForm, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    actions::template(&state, &caller, id).await
}

/// Saves `form` as the caller's template `name` (replacing one of that name).
#[server(endpoint = "jobs/templates/save", input = server_fn::codec::Json)]
pub async fn save_template(name: String, form: JobForm) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    actions::save_template(&state, &caller, &name, &form).await
}
