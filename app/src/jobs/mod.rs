//! Training jobs: launch a GPU job from a form, follow it live from Pending to done, read
//! its logs, cancel it, and find it in the history after the cluster has forgotten it.
//!
//! `form` (the launch form and its validation, also in the wasm), `manifest` (the Job it
//! becomes), `cache` (the Job watch and the history table), `server` (launch, list,
//! detail, cancel, as the user), `logs` (streamed logs), `kubeflow` (PyTorchJob and
//! TrainJob, listed read-only when installed).

#[cfg(feature = "ssr")]
pub mod cache;
pub mod form;
#[cfg(feature = "ssr")]
pub mod kubeflow;
pub mod logs;
#[cfg(feature = "ssr")]
pub mod manifest;
#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::live::{self, LiveBadge};
use form::{Context, FieldError, JobForm};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDetail {
    pub row: JobRow,
    pub image: String,
    pub command: String,
    pub conditions: Vec<String>,
    pub pods: Vec<JobPod>,
    pub events: Vec<JobEvent>,
    pub captured: Vec<CapturedLog>,
}

#[cfg(feature = "ssr")]
fn caller() -> Result<(crate::state::AppState, crate::auth::rules::Principal), AppError> {
    let who = crate::auth::server::require(crate::auth::rules::Action::View, None)?;
    Ok((crate::state::app_state()?, who.principal))
}

/// What the launch form offers: the caller's namespaces, the GPU models and the most of each
/// GPU resource one node has.
#[server(endpoint = "jobs/context")]
pub async fn get_launch_context() -> Result<Context, AppError> {
    let (state, principal) = caller()?;
    server::context(&state, &principal).await
}

/// The exact manifest the form would create, or every field's problem.
#[server(endpoint = "jobs/preview", input = server_fn::codec::Json)]
pub async fn preview_job(form: JobForm) -> Result<String, AppError> {
    let (state, principal) = caller()?;
    let job = server::preview(&state, &principal, &form).await?;
    serde_json::to_string_pretty(&job).map_err(|e| AppError::internal("showing a manifest", e))
}

/// Launches the job as the caller: validated by Gantry, then by the API server (dry run),
/// then created and audited. Answers the job's namespace and name.
#[server(endpoint = "jobs/launch", input = server_fn::codec::Json)]
pub async fn launch_job(form: JobForm) -> Result<(String, String), AppError> {
    let (state, principal) = caller()?;
    let job = server::launch(&state, &principal, form).await?;
    Ok((job.namespace, job.name))
}

#[server(endpoint = "jobs/detail")]
pub async fn get_job(namespace: String, name: String) -> Result<JobDetail, AppError> {
    let (state, principal) = caller()?;
    server::detail(&state, &principal, &namespace, &name).await
}

/// Cancels the job (deletes it; its pods follow in the background), as the caller.
#[server(endpoint = "jobs/cancel")]
pub async fn cancel_job(namespace: String, name: String) -> Result<(), AppError> {
    let (state, principal) = caller()?;
    server::cancel(&state, &principal, &namespace, &name).await
}

/// Suspends or resumes the job, as the caller.
#[server(endpoint = "jobs/suspend")]
pub async fn suspend_job(namespace: String, name: String, suspend: bool) -> Result<(), AppError> {
    let (state, principal) = caller()?;
    server::set_suspended(&state, &principal, &namespace, &name, suspend).await
}

/// The form a job was launched with, to launch a copy.
#[server(endpoint = "jobs/form")]
pub async fn get_job_form(namespace: String, name: String) -> Result<JobForm, AppError> {
    let (state, principal) = caller()?;
    server::form_of(&state, &principal, &namespace, &name).await
}

/// Launches the job again, unchanged, under a new name; answers that name.
#[server(endpoint = "jobs/rerun")]
pub async fn rerun_job(namespace: String, name: String) -> Result<String, AppError> {
    let (state, principal) = caller()?;
    Ok(server::rerun(&state, &principal, &namespace, &name)
        .await?
        .name)
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
    let (state, principal) = caller()?;
    server::templates(&state, &principal).await
}

/// One of the caller's templates.
#[server(endpoint = "jobs/template")]
pub async fn get_template(id: i64) -> Result<JobForm, AppError> {
    let (state, principal) = caller()?;
    server::template(&state, &principal, id).await
}

/// Saves `form` as the caller's template `name` (replacing one of that name).
#[server(endpoint = "jobs/templates/save", input = server_fn::codec::Json)]
pub async fn save_template(name: String, form: JobForm) -> Result<(), AppError> {
    let (state, principal) = caller()?;
    server::save_template(&state, &principal, &name, &form).await
}

/// The JSON API: `GET /api/v1/jobs` (the list's filters as query parameters),
/// `POST /api/v1/jobs` (a [`JobForm`] as JSON; 400 with every field's problem),
/// `GET /api/v1/jobs/{namespace}/{name}`, `DELETE /api/v1/jobs/{namespace}/{name}`.
#[cfg(feature = "ssr")]
pub mod api {
    use axum::extract::{Path, Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::{Extension, Json};

    use super::{server, JobFilter};
    use crate::auth::server::Authenticated;
    use crate::error::AppError;
    use crate::state::AppState;

    fn answer<T: serde::Serialize>(result: Result<T, AppError>, ok: StatusCode) -> Response {
        match result {
            Ok(value) => (ok, Json(value)).into_response(),
            Err(e) => e.into_response(),
        }
    }

    pub async fn list(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Query(filter): Query<JobFilter>,
    ) -> Response {
        let Some(Extension(who)) = who else {
            return AppError::Unauthenticated.into_response();
        };
        answer(
            server::list(&state, &who.principal, &filter).await,
            StatusCode::OK,
        )
    }

    pub async fn create(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        body: Result<Json<super::JobForm>, axum::extract::rejection::JsonRejection>,
    ) -> Response {
        let Some(Extension(who)) = who else {
            return AppError::Unauthenticated.into_response();
        };
        let form = match body {
            Ok(Json(form)) => form,
            Err(e) => return AppError::invalid("body", e.body_text()).into_response(),
        };
        let launched = server::launch(&state, &who.principal, form)
            .await
            .map(|job| serde_json::json!({ "namespace": job.namespace, "name": job.name, "uid": job.uid }));
        answer(launched, StatusCode::CREATED)
    }

    pub async fn detail(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Path((namespace, name)): Path<(String, String)>,
    ) -> Response {
        let Some(Extension(who)) = who else {
            return AppError::Unauthenticated.into_response();
        };
        answer(
            server::detail(&state, &who.principal, &namespace, &name).await,
            StatusCode::OK,
        )
    }

    pub async fn cancel(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Path((namespace, name)): Path<(String, String)>,
    ) -> Response {
        let Some(Extension(who)) = who else {
            return AppError::Unauthenticated.into_response();
        };
        match server::cancel(&state, &who.principal, &namespace, &name).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

fn duration_text(secs: Option<i64>) -> String {
    match secs {
        None => "–".into(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        Some(s) => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// The jobs list, kept current by the jobs stream.
#[component]
pub fn JobsPage() -> impl IntoView {
    let namespace = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let mine = RwSignal::new(false);
    let search = RwSignal::new(String::new());
    let filter = Memo::new(move |_| JobFilter {
        namespace: namespace.get(),
        status: status.get(),
        mine: mine.get(),
        search: search.get(),
    });
    let rows: RwSignal<Option<Result<Vec<JobRow>, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::follow(
        move || {
            let f = filter.get();
            format!(
                "/api/v1/jobs/stream?{}",
                crate::url::query(&[
                    ("namespace", f.namespace.as_str()),
                    ("status", f.status.as_str()),
                    ("mine", if f.mine { "true" } else { "false" }),
                    ("search", f.search.as_str()),
                ])
            )
        },
        move |text| {
            rows.set(Some(
                serde_json::from_str::<Result<Vec<JobRow>, AppError>>(&text).unwrap_or_else(|e| {
                    Err(AppError::Transport {
                        reason: format!("unreadable update: {e}"),
                    })
                }),
            ))
        },
        connection,
    );
    view! {
        <Title text="Training jobs" />
        <section class="page">
            <div class="page-head">
                <h1>"Training jobs"</h1>
                <LiveBadge connection />
                <a class="button primary" href="/jobs/new">"Launch a job"</a>
            </div>
            <p class="lead">"Every job you may see, live: why it waits, how far it got, what it holds."</p>
            <div class="filters" role="search" aria-label="Filter jobs">
                <label>
                    "Namespace"
                    <input aria-label="Namespace" placeholder="all" on:change=move |ev| namespace.set(event_target_value(&ev)) />
                </label>
                <label>
                    "Status"
                    <select aria-label="Status" on:change=move |ev| status.set(event_target_value(&ev))>
                        <option value="">"Any"</option>
                        {["Pending", "Running", "Succeeded", "Failed", "Suspended"]
                            .into_iter()
                            .map(|s| view! { <option value=s>{s}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label class="check">
                    <input type="checkbox" aria-label="Only mine" on:change=move |ev| mine.set(event_target_checked(&ev)) />
                    "Only mine"
                </label>
                <label>
                    "Search"
                    <input type="search" aria-label="Search jobs" on:change=move |ev| search.set(event_target_value(&ev)) />
                </label>
            </div>
            {move || match rows.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => {
                    view! { <p class="muted">"No jobs match. Launch one to get started."</p> }.into_any()
                }
                Some(Ok(rows)) => view! { <JobTable rows /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn JobTable(rows: Vec<JobRow>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="jobs-table">
                <thead>
                    <tr>
                        <th>"Job"</th>
                        <th>"Kind"</th>
                        <th>"Namespace"</th>
                        <th>"Status"</th>
                        <th>"Progress"</th>
                        <th>"GPUs"</th>
                        <th>"Duration"</th>
                        <th>"Launched by"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let href = format!("/jobs/{}/{}", r.namespace, r.name);
                            let gpus = match (&r.gpu_resource, r.gpus_per_pod) {
                                (_, 0) => "none".to_string(),
                                (Some(resource), n) => {
                                    let model = r.gpu_model.clone().unwrap_or_else(|| "any model".into());
                                    format!("{n} × {} ({model})", resource.trim_start_matches("nvidia.com/"))
                                }
                                (None, n) => n.to_string(),
                            };
                            let phase = r.phase.as_str();
                            let status = match &r.reason {
                                Some(reason) => format!("{phase}: {reason}"),
                                None if r.in_cluster => phase.to_string(),
                                None => format!("{phase} (gone from the cluster)"),
                            };
                            let key = r.name.clone();
                            view! {
                                <tr data-job=key data-phase=phase>
                                    <td>
                                        {if r.kind == "Job" {
                                            view! { <a href=href>{r.name.clone()}</a> }.into_any()
                                        } else {
                                            r.name.clone().into_any()
                                        }}
                                    </td>
                                    <td>{r.kind.clone()}</td>
                                    <td>{r.namespace.clone()}</td>
                                    <td class="status" data-testid="job-status">{status}</td>
                                    <td>
                                        {(r.completions > 1)
                                            .then(|| {
                                                view! {
                                                    <progress max=r.completions value=r.succeeded aria-label="Completions"></progress>
                                                    {format!(" {}/{}", r.succeeded, r.completions)}
                                                }
                                            })}
                                    </td>
                                    <td>{gpus}</td>
                                    <td>{duration_text(r.duration_secs)}</td>
                                    <td>{r.launched_by.clone().unwrap_or_else(|| "elsewhere".into())}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The launch form's inputs, one text signal each; lists are edited as lines of text
/// (see `form::lines`).
#[derive(Clone, Copy)]
struct FormFields {
    name: RwSignal<String>,
    namespace: RwSignal<String>,
    image: RwSignal<String>,
    command: RwSignal<String>,
    args: RwSignal<String>,
    env: RwSignal<String>,
    secret_env: RwSignal<String>,
    gpus: RwSignal<String>,
    gpu_model: RwSignal<String>,
    gpu_resource: RwSignal<String>,
    cpu_request: RwSignal<String>,
    cpu_limit: RwSignal<String>,
    memory_request: RwSignal<String>,
    memory_limit: RwSignal<String>,
    mounts: RwSignal<String>,
    shm_size: RwSignal<String>,
    parallelism: RwSignal<String>,
    completions: RwSignal<String>,
    backoff_limit: RwSignal<String>,
    deadline: RwSignal<String>,
    ttl: RwSignal<String>,
    labels: RwSignal<String>,
    annotations: RwSignal<String>,
    hyperparameters: RwSignal<String>,
    hyperparameters_as: RwSignal<String>,
}

impl FormFields {
    fn new(form: &JobForm) -> FormFields {
        let text = |value: &str| RwSignal::new(value.to_string());
        FormFields {
            name: text(&form.name),
            namespace: text(&form.namespace),
            image: text(&form.image),
            command: text(&form.command),
            args: text(&form.args),
            env: text(&form::lines::pairs_text(&form.env)),
            secret_env: text(&form::lines::secrets_text(&form.secret_env)),
            gpus: text(&form.gpus),
            gpu_model: text(&form.gpu_model),
            gpu_resource: text(&form.gpu_resource),
            cpu_request: text(&form.cpu_request),
            cpu_limit: text(&form.cpu_limit),
            memory_request: text(&form.memory_request),
            memory_limit: text(&form.memory_limit),
            mounts: text(&form::lines::mounts_text(&form.mounts)),
            shm_size: text(&form.shm_size),
            parallelism: text(&form.parallelism),
            completions: text(&form.completions),
            backoff_limit: text(&form.backoff_limit),
            deadline: text(&form.active_deadline_seconds),
            ttl: text(&form.ttl_seconds_after_finished),
            labels: text(&form::lines::pairs_text(&form.labels)),
            annotations: text(&form::lines::pairs_text(&form.annotations)),
            hyperparameters: text(&form::lines::pairs_text(&form.hyperparameters)),
            hyperparameters_as: text(&form.hyperparameters_as),
        }
    }

    /// Replaces every input with `form`'s value (a clone, a template).
    fn fill(&self, form: &JobForm) {
        let other = FormFields::new(form);
        for (mine, theirs) in self.all().into_iter().zip(other.all()) {
            mine.set(theirs.get_untracked());
            theirs.dispose();
        }
    }

    fn all(&self) -> [RwSignal<String>; 25] {
        [
            self.name,
            self.namespace,
            self.image,
            self.command,
            self.args,
            self.env,
            self.secret_env,
            self.gpus,
            self.gpu_model,
            self.gpu_resource,
            self.cpu_request,
            self.cpu_limit,
            self.memory_request,
            self.memory_limit,
            self.mounts,
            self.shm_size,
            self.parallelism,
            self.completions,
            self.backoff_limit,
            self.deadline,
            self.ttl,
            self.labels,
            self.annotations,
            self.hyperparameters,
            self.hyperparameters_as,
        ]
    }

    fn form(&self) -> JobForm {
        JobForm {
            name: self.name.get(),
            namespace: self.namespace.get(),
            image: self.image.get(),
            command: self.command.get(),
            args: self.args.get(),
            env: form::lines::pairs(&self.env.get()),
            secret_env: form::lines::secrets(&self.secret_env.get()),
            gpus: self.gpus.get(),
            gpu_model: self.gpu_model.get(),
            gpu_resource: self.gpu_resource.get(),
            cpu_request: self.cpu_request.get(),
            cpu_limit: self.cpu_limit.get(),
            memory_request: self.memory_request.get(),
            memory_limit: self.memory_limit.get(),
            mounts: form::lines::mounts(&self.mounts.get()),
            shm_size: self.shm_size.get(),
            parallelism: self.parallelism.get(),
            completions: self.completions.get(),
            backoff_limit: self.backoff_limit.get(),
            active_deadline_seconds: self.deadline.get(),
            ttl_seconds_after_finished: self.ttl.get(),
            labels: form::lines::pairs(&self.labels.get()),
            annotations: form::lines::pairs(&self.annotations.get()),
            hyperparameters: form::lines::pairs(&self.hyperparameters.get()),
            hyperparameters_as: self.hyperparameters_as.get(),
        }
    }
}

/// The launch form: every field, the manifest preview, and each error beside its field.
#[component]
pub fn LaunchPage() -> impl IntoView {
    let context = LocalResource::new(get_launch_context);
    let fields = FormFields::new(&JobForm::default());
    let FormFields {
        name,
        namespace,
        image,
        command,
        args,
        env,
        secret_env,
        gpus,
        gpu_model,
        gpu_resource,
        cpu_request,
        cpu_limit,
        memory_request,
        memory_limit,
        mounts: mount_lines,
        shm_size,
        parallelism,
        completions,
        backoff_limit,
        deadline,
        ttl,
        labels,
        annotations,
        hyperparameters,
        hyperparameters_as,
    } = fields;
    let form = move || fields.form();
    // `?from=namespace/name`: a copy of that job's form, under a new name.
    let query = leptos_router::hooks::use_query_map();
    let source = LocalResource::new(move || {
        let from = query.read().get("from").unwrap_or_default();
        async move {
            match from.split_once('/') {
                Some((namespace, name)) => Some(get_job_form(namespace.into(), name.into()).await),
                None => None,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Some(Ok(mut from))) = source.get() {
            from.name = format!("{}-copy", from.name.chars().take(58).collect::<String>());
            fields.fill(&from);
        }
    });
    // Templates: the caller's saved forms.
    let templates = LocalResource::new(list_templates);
    let chosen = RwSignal::new(String::new());
    let template = LocalResource::new(move || {
        let id = chosen.get();
        async move {
            match id.parse::<i64>() {
                Ok(id) => Some(get_template(id).await),
                Err(_) => None,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Some(Ok(saved))) = template.get() {
            fields.fill(&saved);
        }
    });
    let template_name = RwSignal::new(String::new());
    let save = Action::new_local(move |(name, form): &(String, JobForm)| {
        save_template(name.clone(), form.clone())
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            templates.refetch();
        }
    });
    let preview = Action::new_local(move |form: &JobForm| preview_job(form.clone()));
    let launch = Action::new_local(move |form: &JobForm| launch_job(form.clone()));
    // Errors from the last preview or launch, by field; other errors shown above the buttons.
    let errors = move || -> Vec<FieldError> {
        let latest = launch
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| preview.value().get().and_then(Result::err));
        match latest {
            Some(AppError::InvalidFields { errors }) => errors,
            _ => Vec::new(),
        }
    };
    let other_error = move || {
        launch
            .value()
            .get()
            .and_then(Result::err)
            .filter(|e| !matches!(e, AppError::InvalidFields { .. }))
    };
    let error_for = move |field: &'static str| {
        move || {
            errors()
                .into_iter()
                .filter(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
                .map(|e| {
                    let label = if e.field == field {
                        String::new()
                    } else {
                        format!("{}: ", e.field)
                    };
                    format!("{label}{}", e.reason)
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok((namespace, name))) = launch.value().get() {
            navigate(&format!("/jobs/{namespace}/{name}"), Default::default());
        }
    });
    let field = move |label: &'static str,
                      key: &'static str,
                      signal: RwSignal<String>,
                      hint: &'static str| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input aria-label=label name=key prop:value=move || signal.get() on:input=move |ev| signal.set(event_target_value(&ev)) placeholder=hint />
                <span class="field-error" data-field=key>{error_for(key)}</span>
            </label>
        }
    };
    let area = move |label: &'static str,
                     key: &'static str,
                     signal: RwSignal<String>,
                     hint: &'static str| {
        view! {
            <label class="field wide">
                <span>{label}</span>
                <textarea aria-label=label name=key rows="3" prop:value=move || signal.get() on:input=move |ev| signal.set(event_target_value(&ev)) placeholder=hint></textarea>
                <span class="field-error" data-field=key>{error_for(key)}</span>
            </label>
        }
    };
    view! {
        <Title text="Launch a job" />
        <section class="page">
            <h1>"Launch a training job"</h1>
            <p class="lead">"Fill in what the job needs; Gantry writes the Job, checks it with the cluster, and shows it before anything runs."</p>
            <div class="filters" role="group" aria-label="Templates">
                <label>
                    "Start from a template"
                    <select aria-label="Start from a template" on:change=move |ev| chosen.set(event_target_value(&ev))>
                        <option value="">"Blank form"</option>
                        {move || {
                            templates.get().and_then(Result::ok).unwrap_or_default()
                                .into_iter()
                                .map(|t| view! { <option value=t.id.to_string()>{t.name}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label>
                    "Save this form as"
                    <input aria-label="Template name" placeholder="llama fine-tune, 4 × H100"
                        prop:value=move || template_name.get()
                        on:input=move |ev| template_name.set(event_target_value(&ev)) />
                </label>
                <button type="button" on:click=move |_| { save.dispatch((template_name.get(), form())); }>"Save template"</button>
                <span class="muted" role="status" data-testid="template-saved">
                    {move || match save.value().get() {
                        Some(Ok(())) => "Saved.".to_string(),
                        Some(Err(e)) => e.to_string(),
                        None => String::new(),
                    }}
                </span>
            </div>
            {move || match context.get() {
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                _ => ().into_any(),
            }}
            {move || match source.get() {
                Some(Some(Err(error))) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                _ => ().into_any(),
            }}
            <form class="launch" on:submit=move |ev| ev.prevent_default()>
                <fieldset>
                    <legend>"Job"</legend>
                    {field("Name", "name", name, "llama-finetune")}
                    <Choice
                        label="Namespace"
                        key="namespace"
                        value=namespace
                        blank="Choose…"
                        options=Signal::derive(move || {
                            context.get().and_then(Result::ok).map(|c| c.namespaces).unwrap_or_default()
                                .into_iter().map(|n| (n.clone(), n)).collect()
                        })
                        error=Signal::derive(error_for("namespace"))
                    />
                    {field("Image", "image", image, "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime")}
                    {area("Command (one word per line)", "command", command, "torchrun\n--nproc-per-node=4")}
                    {area("Arguments (one per line)", "args", args, "train.py")}
                </fieldset>
                <fieldset>
                    <legend>"GPUs"</legend>
                    {field("GPUs", "gpus", gpus, "1")}
                    <Choice
                        label="GPU model"
                        key="gpu_model"
                        value=gpu_model
                        blank="Any model"
                        options=Signal::derive(move || {
                            context.get().and_then(Result::ok).map(|c| c.models).unwrap_or_default()
                                .into_iter().map(|m| (m.clone(), m)).collect()
                        })
                        error=Signal::derive(error_for("gpu_model"))
                    />
                    <Choice
                        label="GPU resource"
                        key="gpu_resource"
                        value=gpu_resource
                        options=Signal::derive(move || {
                            context.get().and_then(Result::ok).map(|c| c.largest).unwrap_or_default()
                                .into_iter().map(|(r, most)| (r.clone(), format!("{r} (up to {most} per node)"))).collect()
                        })
                        error=Signal::derive(error_for("gpu_resource"))
                    />
                    <p class="muted">"Free GPUs by model are on the "<a href="/">"Overview"</a>"."</p>
                </fieldset>
                <fieldset>
                    <legend>"Resources"</legend>
                    {field("CPU request", "cpu_request", cpu_request, "4")}
                    {field("CPU limit", "cpu_limit", cpu_limit, "none")}
                    {field("Memory request", "memory_request", memory_request, "16Gi")}
                    {field("Memory limit", "memory_limit", memory_limit, "none")}
                    {field("Shared memory (/dev/shm)", "shm_size", shm_size, "16Gi for PyTorch data loaders")}
                    {area("Volumes (claim:/path, :ro for read-only)", "mounts", mount_lines, "datasets:/data:ro")}
                </fieldset>
                <fieldset>
                    <legend>"Environment and hyperparameters"</legend>
                    {area("Environment (NAME=value)", "env", env, "NCCL_DEBUG=INFO")}
                    {area("From Secrets (NAME=secret/key)", "secret_env", secret_env, "HF_TOKEN=hf-token/token")}
                    {area("Hyperparameters (key=value)", "hyperparameters", hyperparameters, "lr=3e-4")}
                    <label class="field">
                        <span>"Pass hyperparameters as"</span>
                        <select aria-label="Pass hyperparameters as" name="hyperparameters_as" on:change=move |ev| hyperparameters_as.set(event_target_value(&ev)) prop:value=move || hyperparameters_as.get()>
                            <option value="args">"--key=value arguments"</option>
                            <option value="env">"HP_KEY environment variables"</option>
                        </select>
                    </label>
                    {area("Labels (key=value)", "labels", labels, "team=nlp")}
                    {area("Pod annotations (key=value)", "annotations", annotations, "pod-complete.stage.kwok.x-k8s.io/delay=5m")}
                </fieldset>
                <fieldset>
                    <legend>"Run"</legend>
                    {field("Parallelism", "parallelism", parallelism, "1")}
                    {field("Completions", "completions", completions, "1")}
                    {field("Retries (backoffLimit)", "backoff_limit", backoff_limit, "0")}
                    {field("Deadline (seconds)", "active_deadline_seconds", deadline, "none")}
                    {field("Delete after finishing (seconds)", "ttl_seconds_after_finished", ttl, "keep")}
                </fieldset>
                <p class="form-error" role="alert" data-testid="launch-error">
                    {move || other_error().map(|e| e.to_string())}
                </p>
                <div class="actions">
                    <button type="button" on:click=move |_| { preview.dispatch(form()); }>"Preview manifest"</button>
                    <button type="button" class="primary" on:click=move |_| { launch.dispatch(form()); }>"Launch"</button>
                </div>
            </form>
            {move || {
                preview.value().get().and_then(Result::ok).map(|manifest| {
                    view! {
                        <h2>"Manifest"</h2>
                        <pre class="manifest" data-testid="manifest">{manifest}</pre>
                    }
                })
            }}
        </section>
    }
}

/// A labelled select whose options arrive later (from the cluster): each option is marked
/// selected from `value`, so a value set before the options exist (a clone) still shows.
#[component]
fn Choice(
    label: &'static str,
    key: &'static str,
    value: RwSignal<String>,
    /// The first option, meaning "none chosen", if any.
    #[prop(optional)]
    blank: Option<&'static str>,
    /// (value, text) pairs.
    options: Signal<Vec<(String, String)>>,
    error: Signal<String>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <select aria-label=label name=key on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
                {blank.map(|text| view! { <option value="">{text}</option> })}
                {move || {
                    options.get()
                        .into_iter()
                        .map(|(option, text)| {
                            let this = option.clone();
                            view! { <option value=option prop:selected=move || value.get() == this>{text}</option> }
                        })
                        .collect_view()
                }}
            </select>
            <span class="field-error" data-field=key>{move || error.get()}</span>
        </label>
    }
}

/// A job's page: status, pods, events, and its logs live.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let namespace = Memo::new(move |_| params.read().get("namespace").unwrap_or_default());
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let tick = RwSignal::new(0u64);
    let connection = RwSignal::new(live::Connection::Connecting);
    // The job's row changes arrive on the jobs stream; each one reloads the detail.
    live::follow(
        move || {
            format!(
                "/api/v1/jobs/stream?{}",
                crate::url::query(&[("namespace", &namespace.get()), ("search", &name.get())])
            )
        },
        move |_| tick.update(|n| *n += 1),
        connection,
    );
    let detail = LocalResource::new(move || {
        tick.get();
        get_job(namespace.get(), name.get())
    });
    let cancel = ServerAction::<CancelJob>::new();
    let suspend = ServerAction::<SuspendJob>::new();
    let rerun = ServerAction::<RerunJob>::new();
    let asking = RwSignal::new(false);
    let suspended = move || {
        detail
            .get()
            .and_then(Result::ok)
            .is_some_and(|d| d.row.phase == JobPhase::Suspended)
    };
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(new_name)) = rerun.value().get() {
            navigate(
                &format!("/jobs/{}/{new_name}", namespace.get_untracked()),
                Default::default(),
            );
        }
    });
    let action_error = move || {
        [
            cancel.value().get(),
            suspend.value().get(),
            rerun.value().get().map(|r| r.map(|_| ())),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(|e| e.to_string())
    };
    view! {
        <Title text=move || name.get() />
        <section class="page">
            <p><a href="/jobs">"← Training jobs"</a></p>
            <div class="page-head">
                <h1>{move || name.get()}</h1>
                <LiveBadge connection />
            </div>
            {move || match detail.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(detail)) => view! { <JobSummary detail /> }.into_any(),
            }}
            <div class="actions">
                <Show
                    when=move || asking.get()
                    fallback=move || view! { <button type="button" on:click=move |_| asking.set(true)>"Cancel job"</button> }
                >
                    <span class="confirm">
                        {move || format!("Cancel {}? Its pods are stopped.", name.get())}
                        <button type="button" class="primary" on:click=move |_| {
                            cancel.dispatch(CancelJob { namespace: namespace.get(), name: name.get() });
                            asking.set(false);
                        }>"Confirm"</button>
                        <button type="button" on:click=move |_| asking.set(false)>"Keep it"</button>
                    </span>
                </Show>
            </div>
            <div class="actions">
                <button type="button" on:click=move |_| {
                    suspend.dispatch(SuspendJob { namespace: namespace.get(), name: name.get(), suspend: !suspended() });
                }>{move || if suspended() { "Resume" } else { "Suspend" }}</button>
                <a class="button" href=move || format!("/jobs/new?from={}/{}", namespace.get(), name.get())>"Clone"</a>
                <button type="button" on:click=move |_| {
                    rerun.dispatch(RerunJob { namespace: namespace.get(), name: name.get() });
                }>"Re-run"</button>
            </div>
            <p class="form-error" role="alert">{action_error}</p>
            <JobLogs namespace name detail=Signal::derive(move || detail.get().and_then(Result::ok)) />
        </section>
    }
}

#[component]
fn JobSummary(detail: JobDetail) -> impl IntoView {
    let row = detail.row;
    let status = match &row.reason {
        Some(reason) => format!("{}: {reason}", row.phase.as_str()),
        None => row.phase.as_str().to_string(),
    };
    view! {
        <dl class="facts" data-testid="job-facts">
            <dt>"Status"</dt><dd data-testid="job-status">{status}</dd>
            <dt>"Namespace"</dt><dd>{row.namespace.clone()}</dd>
            <dt>"Image"</dt><dd><code>{detail.image}</code></dd>
            <dt>"Command"</dt><dd><code>{detail.command}</code></dd>
            <dt>"GPUs per pod"</dt><dd>{format!("{} {}", row.gpus_per_pod, row.gpu_model.clone().unwrap_or_default())}</dd>
            <dt>"Completions"</dt><dd>{format!("{} of {} ({} failed)", row.succeeded, row.completions, row.failed)}</dd>
            <dt>"Duration"</dt><dd>{duration_text(row.duration_secs)}</dd>
            <dt>"Launched by"</dt><dd>{row.launched_by.clone().unwrap_or_else(|| "elsewhere".into())}</dd>
            <dt>"Conditions"</dt><dd>{if detail.conditions.is_empty() { "none yet".to_string() } else { detail.conditions.join(", ") }}</dd>
        </dl>
        <h2>"Pods"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="job-pods">
                <thead><tr><th>"Pod"</th><th>"Phase"</th><th>"Node"</th><th>"Restarts"</th></tr></thead>
                <tbody>
                    {detail.pods.into_iter().map(|p| view! {
                        <tr>
                            <td>{p.name}</td>
                            <td>{p.phase}</td>
                            <td>{p.node.unwrap_or_else(|| "not scheduled".into())}</td>
                            <td>{p.restarts}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {(!detail.captured.is_empty()).then(|| view! {
            <h2>"Last log lines, kept when the job finished"</h2>
            {detail.captured.into_iter().map(|c| view! {
                <h3>{c.pod}</h3>
                <pre class="log" data-testid="captured-log">{c.lines}</pre>
            }).collect_view()}
        })}
        <h2>"Events"</h2>
        <ul class="events" data-testid="job-events">
            {detail.events.into_iter().map(|e| view! {
                <li class=format!("event {}", e.kind.to_lowercase())>
                    <strong>{e.reason}</strong>" "{e.message}
                    <span class="muted">{format!(" · {} · {}", e.object, e.last_seen)}</span>
                </li>
            }).collect_view()}
        </ul>
    }
}

/// The log viewer: one pod or all, follow with a tail, pause, search, download; at most
/// [`logs::KEPT_LINES`] lines held.
#[component]
fn JobLogs(
    namespace: Memo<String>,
    name: Memo<String>,
    detail: Signal<Option<JobDetail>>,
) -> impl IntoView {
    let pod = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let paused = RwSignal::new(false);
    let lines: RwSignal<std::collections::VecDeque<logs::LogLine>> =
        RwSignal::new(Default::default());
    let connection = RwSignal::new(live::Connection::Connecting);
    live::follow(
        move || {
            lines.set(Default::default());
            format!(
                "/api/v1/jobs/{}/{}/logs?{}",
                namespace.get(),
                name.get(),
                crate::url::query(&[("pod", &pod.get()), ("tail", "500")])
            )
        },
        move |text| {
            if let Ok(Ok(line)) = serde_json::from_str::<Result<logs::LogLine, AppError>>(&text) {
                lines.update(|kept| {
                    kept.push_back(line);
                    while kept.len() > logs::KEPT_LINES {
                        kept.pop_front();
                    }
                });
            }
        },
        connection,
    );
    let shown = move || {
        let needle = search.get().to_lowercase();
        let all = pod.get().is_empty();
        lines.with(|kept| {
            kept.iter()
                .filter(|l| needle.is_empty() || l.line.to_lowercase().contains(&needle))
                .map(|l| {
                    if all {
                        format!("[{}] {}", l.pod, l.line)
                    } else {
                        l.line.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    let view_ref = NodeRef::<leptos::html::Pre>::new();
    Effect::new(move |_| {
        lines.track();
        if !paused.get_untracked() {
            if let Some(pre) = view_ref.get() {
                pre.set_scroll_top(pre.scroll_height());
            }
        }
    });
    let download = move || {
        format!(
            "/api/v1/jobs/{}/{}/logs.txt?{}",
            namespace.get(),
            name.get(),
            crate::url::query(&[("pod", &pod.get())])
        )
    };
    view! {
        <h2>"Logs " <LiveBadge connection /></h2>
        <div class="filters" role="group" aria-label="Logs">
            <label>
                "Pod"
                <select aria-label="Pod" on:change=move |ev| pod.set(event_target_value(&ev))>
                    <option value="">"All pods, interleaved"</option>
                    {move || detail.get().map(|d| d.pods).unwrap_or_default().into_iter()
                        .map(|p| view! { <option value=p.name.clone()>{p.name.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Search"
                <input type="search" aria-label="Search the log" on:input=move |ev| search.set(event_target_value(&ev)) />
            </label>
            <label class="check">
                <input type="checkbox" aria-label="Pause scrolling" on:change=move |ev| paused.set(event_target_checked(&ev)) />
                "Pause scrolling"
            </label>
            <a class="button" href=download download="">"Download"</a>
        </div>
        <pre class="log" data-testid="job-log" node_ref=view_ref>{shown}</pre>
    }
}
