//! The `mlflow-server` Service a tracked job may ask for (server only), so that training code
//! written for the MLflow server Gantry replaces, `set_tracking_uri("http://mlflow-server:5000")`,
//! reaches Gantry unchanged. It is an `ExternalName` Service: a DNS alias of Gantry's own
//! Service (`GANTRY_MLFLOW_SERVICE_HOST`). An alias maps no ports, so Gantry's Service also
//! listens on 5000 (`k8s/base/service.yaml`).
//!
//! It belongs to the namespace, not to one Job: the jobs launched after it use it too, so it
//! is not owned by the Job that asked for it and stays when that Job goes (an alias costs
//! nothing; deleting it is the namespace owner's call). It is created as the user, checked
//! first with a dry run, so a user the cluster does not let create Services gets a field error
//! and nothing is launched. A Service of that name that Gantry did not create is never
//! changed: the launch is refused instead, because the job's code would reach that server.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use crate::auth::caller::Caller;
use crate::error::AppError;
use crate::jobs::manifest::MANAGED_BY;
use crate::state::AppState;

/// The name MLflow's own deployments give the tracking server's Service.
pub const NAME: &str = "mlflow-server";
/// MLflow's default port, which the code expects in its URL.
pub const PORT: i32 = 5000;
/// The form's field.
const FIELD: &str = "tracking_service";

/// The DNS name the Service aliases, or the field's error.
pub fn host(state: &AppState) -> Result<&str, AppError> {
    state.mlflow_service_host.as_deref().ok_or_else(|| {
        AppError::invalid(
            FIELD,
            "Gantry does not know its own Service's name in the cluster: its operator sets GANTRY_MLFLOW_SERVICE_HOST",
        )
    })
}

/// Checks, as the caller, that `namespace` has no `mlflow-server` of someone else's and that
/// the cluster lets the caller create it (a dry run, which also answers "already there" only
/// to those who may create it: the same rule whether the Service is there or not).
pub async fn plan(state: &AppState, caller: &Caller, namespace: &str) -> Result<(), AppError> {
    let service = service(namespace, host(state)?);
    let services: Api<Service> = Api::namespaced(state.cluster.as_user(caller)?, namespace);
    match services.get_opt(NAME).await {
        Ok(Some(existing)) if !is_gantrys(&existing) => {
            return Err(AppError::invalid(
                FIELD,
                format!(
                    "{namespace} already has a Service {NAME} that Gantry did not create, and the job's code would reach that one: leave this off, or remove it"
                ),
            ))
        }
        Ok(_) => {}
        Err(e) => return Err(refusal(e, namespace, "read")),
    }
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    match services.create(&dry_run, &service).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(refusal(e, namespace, "create")),
    }
}

/// Creates the Service for the Job `job` as the caller, unless an earlier job's is there;
/// audited on the Job, so the log says which jobs rely on it.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    job: &str,
) -> Result<(), AppError> {
    let host = host(state)?;
    let services: Api<Service> = Api::namespaced(state.cluster.as_user(caller)?, namespace);
    let object = format!("job/{namespace}/{job}");
    let detail = format!("service/{namespace}/{NAME}, an alias of {host}:{PORT}");
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action: "job.tracking_service",
        object: &object,
        detail: &detail,
    };
    let (params, service) = (PostParams::default(), service(namespace, host));
    let created = async {
        match services.create(&params, &service).await {
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            outcome => outcome.map(drop),
        }
    };
    crate::audit::around(&state.db, entry, created)
        .await?
        .map_err(|e| refusal(e, namespace, "create"))
}

fn is_gantrys(service: &Service) -> bool {
    service
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(MANAGED_BY.0))
        .is_some_and(|by| by == MANAGED_BY.1)
}

/// A refusal by the cluster as the field's error when it is the user's permission.
fn refusal(error: kube::Error, namespace: &str, verb: &str) -> AppError {
    match error {
        kube::Error::Api(status) if status.code == 403 => AppError::invalid(
            FIELD,
            format!("the cluster does not let you {verb} Services in {namespace}"),
        ),
        e => AppError::from_kube(e, &format!("service {NAME}")),
    }
}

/// The alias of `host` in `namespace`.
fn service(namespace: &str, host: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(namespace.into()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY.0.to_string(),
                MANAGED_BY.1.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".into()),
            external_name: Some(host.into()),
            // Documents the port the code uses; an alias forwards none.
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: PORT,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}
