//! Rolling a service out to another model, as the caller (server only): an
//! InferenceService's `storageUri`, or a Deployment's model where `recognise` reads it (the
//! server's argument or variable, else `MODEL_URI`, else the image's tag).
//!
//! A preview is the same change sent with the API server's dry run, as the caller: what it
//! shows went through the cluster's RBAC, validation and admission webhooks (KServe's
//! validator among them) and stored nothing. The change itself carries the
//! `metadata.generation` the page showed, as the other actions do.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::Api;

use super::actions::{at_generation, audited, check_generation, field_manager, what};
use super::recognise::{recognise, set_model, ModelField, Recognised};
use super::server::inference_services;
use super::{ModelChange, ServiceKind};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// The longest model reference accepted (a URI or an image).
pub const MAX_MODEL: usize = 2_048;

/// Where an InferenceService's predictor names its model.
const STORAGE_URI: &str = "spec.predictor.model.storageUri";

/// A model reference as it may be written into a spec: one word, printable, bounded.
pub fn check_model(to: &str) -> Result<(), AppError> {
    let refuse = |reason: String| Err(AppError::invalid("to", reason));
    if to.is_empty() {
        return refuse("names the model to serve: a storage URI, a model path or an image".into());
    }
    if to.len() > MAX_MODEL {
        return refuse(format!(
            "must be at most {MAX_MODEL} bytes, got {}",
            to.len()
        ));
    }
    if to.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("must be one word: no spaces or control characters".into());
    }
    Ok(())
}

/// Rolls the service out to `to` as the caller (an ops admin; the cluster's RBAC decides
/// too), if its spec is still at `generation`. With `dry_run` nothing is stored and nothing
/// audited: the answer is the change the API server accepted. Otherwise audited whatever
/// the outcome. `changed` is false when it already serves `to`.
#[allow(clippy::too_many_arguments)]
pub async fn roll_out(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
    to: &str,
    generation: i64,
    dry_run: bool,
) -> Result<ModelChange, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::OperateCluster, Some(namespace))?;
    check_model(to)?;
    check_generation(generation)?;
    let client = state.cluster.as_user(caller)?;
    let what = what(kind, namespace, name);
    let manager = Some(field_manager(caller));
    let change = async {
        match kind {
            ServiceKind::Deployment => {
                let api: Api<Deployment> = Api::namespaced(client, namespace);
                let params = PostParams {
                    dry_run,
                    field_manager: manager,
                };
                at_generation(&api, name, generation, &what, |mut deployment| {
                    let (api, params, what) = (&api, &params, &what);
                    async move {
                        if let Some(Recognised::PartOf(isvc)) = recognise(&deployment) {
                            return Err(AppError::Conflict {
                                reason: format!("{what} is the InferenceService {isvc}'s: KServe would undo the change, roll {isvc} out instead"),
                            });
                        }
                        let template = deployment
                            .spec
                            .as_mut()
                            .map(|s| &mut s.template)
                            .ok_or_else(|| AppError::Conflict {
                                reason: format!("{what} has no pod template"),
                            })?;
                        let field = set_model(template, to).ok_or_else(|| AppError::Conflict {
                            reason: format!("{what} has no container to serve a model"),
                        })?;
                        if field.from == field.to {
                            return Ok(Ok(unchanged(field)));
                        }
                        deployment.metadata.managed_fields = None;
                        Ok(api
                            .replace(name, params, &deployment)
                            .await
                            .map(|_| changed(field)))
                    }
                })
                .await
            }
            ServiceKind::InferenceService => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client, namespace, &inference_services());
                let params = PatchParams {
                    dry_run,
                    field_manager: manager,
                    ..Default::default()
                };
                at_generation(&api, name, generation, &what, |current| {
                    let (api, params, what) = (&api, &params, &what);
                    async move {
                        let Some(from) =
                            current.data["spec"]["predictor"]["model"]["storageUri"].as_str()
                        else {
                            return Err(AppError::Conflict {
                                reason: format!("{what} serves a custom container, not a model URI: change its image instead"),
                            });
                        };
                        let field = ModelField {
                            path: STORAGE_URI.into(),
                            from: from.into(),
                            to: to.into(),
                        };
                        if field.from == field.to {
                            return Ok(Ok(unchanged(field)));
                        }
                        let patch = serde_json::json!({
                            "metadata": { "resourceVersion": current.metadata.resource_version },
                            "spec": { "predictor": { "model": { "storageUri": to } } }
                        });
                        Ok(api
                            .patch(name, params, &Patch::Merge(&patch))
                            .await
                            .map(|_| changed(field)))
                    }
                })
                .await
            }
        }
    };
    if dry_run {
        return change.await;
    }
    let service = (kind, namespace, name);
    let detail = format!("model -> {to}");
    audited(state, caller, "service.rollout", service, &detail, change).await
}

fn changed(field: ModelField) -> ModelChange {
    ModelChange {
        field: field.path,
        from: field.from,
        to: field.to,
        changed: true,
    }
}

fn unchanged(field: ModelField) -> ModelChange {
    ModelChange {
        changed: false,
        ..changed(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_reference_is_one_bounded_printable_word_named_to() {
        for good in [
            "s3://models/iris/2",
            "gs://b/m",
            "models:/iris/2",
            "fraud:1.5",
        ] {
            assert!(check_model(good).is_ok(), "{good}");
        }
        let too_long = "s".repeat(MAX_MODEL + 1);
        for bad in ["", "s3://a b", "s3://a\n", too_long.as_str()] {
            let error = check_model(bad).unwrap_err().to_string();
            assert!(error.contains("to"), "{bad:?}: {error}");
        }
    }
}
