//! What the caller does to jobs (server only), each as the caller and audited where it
//! changes the cluster: launch (Gantry's checks, then a dry run, then create), cancel,
//! suspend and resume, clone and re-run from the stored form, and templates.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};

use super::form::{validate, Checked, Context, FieldError, JobForm};
use super::info::JobInfo;
use super::server::{allowed_in, may_list_jobs};
use super::{manifest, store, tracking, Template};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// Templates one user may keep.
pub const TEMPLATES_PER_USER: i64 = 100;

/// Namespaces Gantry never offers for jobs.
const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// The namespaces the caller may create Jobs in, by Gantry's rules and the cluster's. For
/// the launch form only: with every namespace in scope, this LISTs the cluster's namespaces
/// (leaving out those being deleted) and asks about them 16 at a time.
async fn launch_namespaces(state: &AppState, caller: &Caller) -> Result<Vec<String>, AppError> {
    use futures::StreamExt;

    let candidates: Vec<String> = match &caller.namespaces {
        crate::auth::rules::Namespaces::Only(names) => names.clone(),
        crate::auth::rules::Namespaces::All => {
            let client = state
                .cluster
                .client()
                .ok_or_else(|| AppError::unavailable("Kubernetes", "not connected"))?;
            Api::<Namespace>::all(client)
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|n| {
                    n.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
                })
                .filter_map(|n| n.metadata.name)
                .filter(|n| !SYSTEM_NAMESPACES.contains(&n.as_str()))
                .collect()
        }
    };
    let answers: Vec<(String, Result<bool, AppError>)> = futures::stream::iter(
        candidates
            .into_iter()
            .filter(|namespace| caller.check(Action::LaunchJobs, Some(namespace)).is_ok()),
    )
    .map(|namespace| async move {
        let allowed = allowed_in(state, caller, "create", &namespace).await;
        (namespace, allowed)
    })
    .buffered(16)
    .collect()
    .await;
    let mut namespaces = Vec::new();
    for (namespace, allowed) in answers {
        if allowed? {
            namespaces.push(namespace);
        }
    }
    Ok(namespaces)
}

/// What the launch form offers and checks against: the user's namespaces, the GPU models
/// present and the most of each GPU resource one node has.
pub async fn context(state: &AppState, caller: &Caller) -> Result<Context, AppError> {
    caller.check(Action::LaunchJobs, None)?;
    let namespaces = launch_namespaces(state, caller).await?;
    fleet_context(state, namespaces)
}

/// The context for checking one form: only its own namespace is asked about (one access
/// review), not every namespace the form page offers, so that a launch costs the same in a
/// cluster of five namespaces as in one of five hundred.
async fn context_for(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
) -> Result<Context, AppError> {
    caller.check(Action::LaunchJobs, None)?;
    let allowed = crate::names::is_dns_label(namespace)
        && !SYSTEM_NAMESPACES.contains(&namespace)
        && caller.check(Action::LaunchJobs, Some(namespace)).is_ok()
        && allowed_in(state, caller, "create", namespace).await?;
    let namespaces = if allowed {
        vec![namespace.to_string()]
    } else {
        Vec::new()
    };
    fleet_context(state, namespaces)
}

/// `namespaces`, with the GPU models present and the most of each GPU resource one node has.
fn fleet_context(state: &AppState, namespaces: Vec<String>) -> Result<Context, AppError> {
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
pub async fn preview(state: &AppState, caller: &Caller, form: &JobForm) -> Result<Job, AppError> {
    let (mut job, _) = checked_job(state, caller, form).await?;
    if form.tracking {
        tracking::preview(state, form, &mut job)?;
    }
    Ok(job)
}

/// The Job for `form` once Gantry's checks pass, with the form as checked.
async fn checked_job(
    state: &AppState,
    caller: &Caller,
    form: &JobForm,
) -> Result<(Job, Checked), AppError> {
    let context = context_for(state, caller, &form.namespace).await?;
    let checked = validate(form, &context).map_err(|errors| AppError::InvalidFields { errors })?;
    Ok((manifest::job(form, &checked, &caller.username), checked))
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
pub async fn launch(state: &AppState, caller: &Caller, form: JobForm) -> Result<JobInfo, AppError> {
    caller.check(Action::LaunchJobs, Some(&form.namespace))?;
    let (mut job, checked) = checked_job(state, caller, &form).await?;
    let plan = match form.tracking {
        true => Some(tracking::plan(state, caller, &form, checked.active_deadline_seconds).await?),
        false => None,
    };
    if let Some(plan) = &plan {
        tracking::inject(&mut job, &plan.uri, &plan.run_id);
    }
    let client = state.cluster.as_user(caller)?;
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
    let object = format!("job/{}/{}", form.namespace, form.name);
    let detail = format!("{} × {} {}", form.gpus, form.gpu_resource, form.gpu_model);
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action: "job.launch",
        object: &object,
        detail: &detail,
    };
    let outcome =
        crate::audit::around(&state.db, entry, jobs.create(&PostParams::default(), &job)).await?;
    let created = outcome.map_err(|e| refusal(e, &form))?;
    let info = JobInfo::from_job(&created);
    if let Some(plan) = &plan {
        // Nothing half-way: a job whose tracking could not start is removed again.
        if let Err(error) = tracking::start(state, caller, &form, plan, &info.uid).await {
            let removed = cancel(state, caller, &form.namespace, &form.name).await;
            return Err(match removed {
                Ok(()) => error,
                Err(e) => AppError::internal(
                    "launching a tracked job",
                    format!("its tracking failed ({error}) and removing it failed too ({e})"),
                ),
            });
        }
    }
    let form_json =
        serde_json::to_string(&form).map_err(|e| AppError::internal("saving a job's form", e))?;
    store::launched(&state.db, &info, &caller.username, &form_json).await?;
    Ok(info)
}

/// Deletes the Job and, in the background, its pods; as the user, audited.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> Result<(), AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::LaunchJobs, Some(namespace))?;
    let client = state.cluster.as_user(caller)?;
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    let object = format!("job/{namespace}/{name}");
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action: "job.cancel",
        object: &object,
        detail: "delete, background propagation",
    };
    let delete = async {
        Api::<Job>::namespaced(client, namespace)
            .delete(name, &params)
            .await
            .map(|_| ())
            .map_err(|e| AppError::from_kube(e, &format!("job {namespace}/{name}")))
    };
    crate::audit::around(&state.db, entry, delete).await?
}

/// Suspends (or resumes) the Job, as the user, audited: a suspended Job's pods are removed
/// and its GPUs freed until it resumes.
pub async fn set_suspended(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
    suspend: bool,
) -> Result<(), AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::LaunchJobs, Some(namespace))?;
    let client = state.cluster.as_user(caller)?;
    let patch = serde_json::json!({ "spec": { "suspend": suspend } });
    let object = format!("job/{namespace}/{name}");
    let detail = format!("spec.suspend -> {suspend}");
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action: if suspend { "job.suspend" } else { "job.resume" },
        object: &object,
        detail: &detail,
    };
    let change = async {
        Api::<Job>::namespaced(client, namespace)
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .map(|_| ())
            .map_err(|e| AppError::from_kube(e, &format!("job {namespace}/{name}")))
    };
    crate::audit::around(&state.db, entry, change).await?
}

/// The form a job was launched with (newest launch of that name), for clone and re-run.
pub async fn form_of(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> Result<JobForm, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::View, Some(namespace))?;
    may_list_jobs(state, caller, namespace).await?;
    let form = store::launch_form(&state.db, namespace, name)
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!(
                "a launch form for {namespace}/{name} (only jobs launched through Gantry have one)"
            ))
        })?;
    serde_json::from_str(&form).map_err(|e| AppError::internal("reading a job's form", e))
}

/// Launches the job again under a new name: the original's name with `-rN`, the first free N.
pub async fn rerun(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> Result<JobInfo, AppError> {
    let mut form = form_of(state, caller, namespace, name).await?;
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
    launch(state, caller, form).await
}

/// The caller's templates (a template is its owner's alone).
pub async fn templates(state: &AppState, caller: &Caller) -> Result<Vec<Template>, AppError> {
    caller.check(Action::LaunchJobs, None)?;
    store::templates(&state.db, &caller.username).await
}

/// One of the caller's templates.
pub async fn template(state: &AppState, caller: &Caller, id: i64) -> Result<JobForm, AppError> {
    caller.check(Action::LaunchJobs, None)?;
    let form = store::template(&state.db, &caller.username, id)
        .await?
        .ok_or_else(|| AppError::not_found("template"))?;
    serde_json::from_str(&form).map_err(|e| AppError::internal("reading a template", e))
}

/// Saves the form as it is, unchecked: a template may be half filled in.
pub async fn save_template(
    state: &AppState,
    caller: &Caller,
    name: &str,
    form: &JobForm,
) -> Result<(), AppError> {
    caller.check(Action::LaunchJobs, None)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "1 to 100 characters, no control characters",
        ));
    }
    let oversized = super::form::too_large(form);
    if !oversized.is_empty() {
        return Err(AppError::InvalidFields { errors: oversized });
    }
    let form =
        serde_json::to_string(form).map_err(|e| AppError::internal("saving a template", e))?;
    let mut tx = state.db.begin().await?;
    let outcome = match store::other_templates(tx.conn(), &caller.username, name).await {
        Ok(count) if count >= TEMPLATES_PER_USER => Err(AppError::invalid(
            "name",
            format!("you have {TEMPLATES_PER_USER} templates, the most one may keep; save over one of them by its name"),
        )),
        Ok(_) => store::save_template(tx.conn(), &caller.username, name, &form).await,
        Err(e) => Err(e),
    };
    let object = format!("template/{}/{name}", caller.username);
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action: "template.save",
        object: &object,
        detail: "",
    };
    crate::audit::committed(&state.db, tx, entry, outcome).await
}
