//! A job tracked with MLflow (server only). Launched with tracking on, a Job gets a run in
//! Gantry's registry (`models::tracking::job_runs`), which records the Job, and three
//! variables MLflow's client reads as they are: `MLFLOW_TRACKING_URI` (Gantry as the pods
//! reach it, `GANTRY_TRACKING_URI`), `MLFLOW_RUN_ID` (the run; `mlflow.start_run()` resumes
//! it) and `MLFLOW_TRACKING_TOKEN`, from a Secret Gantry creates as the user beside the Job,
//! owned by the Job so that it goes with it.
//!
//! The credential is a Gantry API token, not the pod's service-account token checked with a
//! TokenReview: MLflow's client reads its token once, from the environment, while a
//! projected service-account token is a file the kubelet rotates, so every training script
//! would need a wrapper. The token reaches only MLflow's routes in the job's namespace
//! (`auth::layer`), expires an hour after the job's deadline (7 days at most) and is
//! revoked when the Job ends (`jobs::history`); its owner sees it among their tokens.
//!
//! The launch may also ask for the namespace's `mlflow-server` Service (`service`).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, Secret, SecretKeySelector};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};

use super::form::{JobForm, TRACKING_ENV};
use super::manifest::MANAGED_BY;
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::auth::token_store;
use crate::error::AppError;
use crate::models::tracking::job_runs::{self, JobRun};
use crate::state::AppState;

pub mod service;

/// The key of the token in the job's Secret.
const TOKEN_KEY: &str = "token";
/// The longest a job's token lives, whatever the job's deadline.
const TOKEN_DAYS: u64 = 7;

/// The Secret holding a job's token: `<job>-mlflow`.
pub fn secret_name(job: &str) -> String {
    format!("{job}-mlflow")
}

/// What a tracked launch will create, decided before anything is.
pub struct Plan {
    pub uri: String,
    pub run_id: String,
    pub token: String,
    /// UTC, when the token expires if the Job has not ended by then.
    pub expires: String,
    /// Whether to give the namespace its `mlflow-server` Service (`service`).
    pub service: bool,
}

/// What the preview shows for the run: it is created at launch.
const PREVIEW_RUN_ID: &str = "(created at launch)";

/// Where the pods reach Gantry, or the `tracking` field's error.
fn uri(state: &AppState) -> Result<String, AppError> {
    state.tracking_uri.clone().ok_or_else(|| {
        AppError::invalid(
            "tracking",
            "Gantry does not know the address pods reach it at: its operator sets GANTRY_TRACKING_URI",
        )
    })
}

/// The variables of a previewed tracked job (the run does not exist yet).
pub fn preview(state: &AppState, form: &JobForm, job: &mut Job) -> Result<(), AppError> {
    inject(job, &uri(state)?, PREVIEW_RUN_ID);
    if form.tracking_service {
        service::host(state)?;
    }
    Ok(())
}

/// Checks what tracking `form` needs, as the caller, before the Job is created: the address,
/// the experiment (new, or the namespace's), the role to write runs there, and that the
/// cluster lets the caller create the Secret (a dry run), and the Service if asked for.
pub async fn plan(
    state: &AppState,
    caller: &Caller,
    form: &JobForm,
    deadline_secs: Option<i64>,
) -> Result<Plan, AppError> {
    let uri = uri(state)?;
    caller.check(Action::ManageModels, Some(&form.namespace))?;
    job_runs::check_experiment(state, form.experiment.trim(), &form.namespace).await?;
    let secrets: Api<Secret> = Api::namespaced(state.cluster.as_user(caller)?, &form.namespace);
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    secrets
        .create(&dry_run, &secret(&form.name, &form.namespace, "", None))
        .await
        .map_err(|e| match e {
            kube::Error::Api(status) if status.code == 409 => AppError::invalid(
                "tracking",
                format!(
                    "a Secret {} already exists in {}: name the job otherwise",
                    secret_name(&form.name),
                    form.namespace
                ),
            ),
            kube::Error::Api(status) if status.code == 403 => AppError::invalid(
                "tracking",
                format!(
                    "the cluster does not let you create Secrets in {}: the job's MLflow token is kept in one",
                    form.namespace
                ),
            ),
            e => AppError::from_kube(e, &format!("secret {}", secret_name(&form.name))),
        })?;
    if form.tracking_service {
        service::plan(state, caller, &form.namespace).await?;
    }
    let lifetime = deadline_secs
        .map(|d| d.max(0) as u64 + 3600)
        .unwrap_or(u64::MAX)
        .min(TOKEN_DAYS * 86_400);
    Ok(Plan {
        uri,
        run_id: uuid::Uuid::new_v4().simple().to_string(),
        token: token_store::new_token(),
        expires: crate::time::format_unix(crate::time::unix_now() + lifetime),
        service: form.tracking_service,
    })
}

/// Gives every container of `job` the tracking variables.
pub fn inject(job: &mut Job, uri: &str, run_id: &str) {
    let secret = secret_name(job.metadata.name.as_deref().unwrap_or_default());
    let [tracking_uri, run, token] = TRACKING_ENV;
    let variables = [
        EnvVar {
            name: tracking_uri.into(),
            value: Some(uri.into()),
            ..Default::default()
        },
        EnvVar {
            name: run.into(),
            value: Some(run_id.into()),
            ..Default::default()
        },
        EnvVar {
            name: token.into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret,
                    key: TOKEN_KEY.into(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let containers = job
        .spec
        .iter_mut()
        .filter_map(|spec| spec.template.spec.as_mut())
        .flat_map(|pod| pod.containers.iter_mut());
    for container in containers {
        container
            .env
            .get_or_insert_with(Vec::new)
            .extend(variables.iter().cloned());
    }
}

/// The Secret of job `job`'s token; owned by the Job once it exists (`owner`: its uid).
fn secret(job: &str, namespace: &str, token: &str, owner: Option<&str>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(job)),
            namespace: Some(namespace.into()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY.0.to_string(),
                MANAGED_BY.1.to_string(),
            )])),
            owner_references: owner.map(|uid| {
                vec![OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name: job.into(),
                    uid: uid.into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([(TOKEN_KEY.to_string(), token.to_string())])),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// After the Job `created` exists: its Secret and the Service if asked for, as the caller,
/// then its run and token.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    form: &JobForm,
    plan: &Plan,
    uid: &str,
) -> Result<(), AppError> {
    let secrets: Api<Secret> = Api::namespaced(state.cluster.as_user(caller)?, &form.namespace);
    secrets
        .create(
            &PostParams::default(),
            &secret(&form.name, &form.namespace, &plan.token, Some(uid)),
        )
        .await
        .map_err(|e| AppError::from_kube(e, &format!("secret {}", secret_name(&form.name))))?;
    if plan.service {
        service::create(state, caller, &form.namespace, &form.name).await?;
    }
    let run = JobRun {
        run_id: &plan.run_id,
        experiment: form.experiment.trim(),
        namespace: &form.namespace,
        job_name: &form.name,
        job_uid: uid,
        token: &plan.token,
        token_expires: &plan.expires,
    };
    job_runs::create(state, caller, &run).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

    #[test]
    fn every_container_gets_the_address_the_run_and_the_token_by_reference() {
        let container = |name: &str| Container {
            name: name.into(),
            ..Default::default()
        };
        let mut job = Job {
            metadata: ObjectMeta {
                name: Some("train".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    spec: Some(PodSpec {
                        containers: vec![container("main"), container("sidecar")],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        inject(&mut job, "http://gantry:3000", "abc");
        let pod = job.spec.unwrap().template.spec.unwrap();
        for container in pod.containers {
            let env = container.env.unwrap();
            assert_eq!(env[0].value.as_deref(), Some("http://gantry:3000"));
            assert_eq!(env[1].value.as_deref(), Some("abc"));
            assert_eq!(env[2].name, "MLFLOW_TRACKING_TOKEN");
            assert_eq!(env[2].value, None, "never the token itself");
            let from = env[2].value_from.as_ref().unwrap().secret_key_ref.as_ref();
            assert_eq!(from.unwrap().name, "train-mlflow");
        }
    }
}
