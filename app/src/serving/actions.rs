//! The Serving area's changes, as the caller (server only): scale and roll back. Each is
//! audited whatever its outcome, and carries the `metadata.generation` the caller's page
//! showed, so that of two people changing one spec, one wins and the other hears 409; a
//! status the controllers wrote meanwhile (a rollout in progress) changes nothing.

use std::future::Future;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec};
use kube::api::{DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::Api;

use super::cache::revision_number;
use super::server::inference_services;
use super::{ServiceKind, MAX_REPLICAS};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// Writes tried while only the object's status moves under them (each a read and a write):
/// a rollout updates a Deployment's status every few hundred milliseconds at most.
const WRITE_TRIES: usize = 5;

/// Scales the service as the caller (an ops admin; the cluster's RBAC decides too), if its
/// spec is still at `generation`, audited whatever the outcome. A Deployment goes through
/// its scale subresource, refused while an HPA sets its replicas; an InferenceService gets
/// `minReplicas` (and `maxReplicas` raised to it if lower), which KServe's HPA then keeps.
pub async fn scale(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
    replicas: i32,
    generation: i64,
) -> Result<(), AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::OperateCluster, Some(namespace))?;
    if !(0..=MAX_REPLICAS).contains(&replicas) {
        return Err(AppError::invalid(
            "replicas",
            format!("must be between 0 and {MAX_REPLICAS}, got {replicas}"),
        ));
    }
    check_generation(generation)?;
    let client = state.cluster.as_user(caller)?;
    let detail = match kind {
        ServiceKind::Deployment => format!("replicas -> {replicas}"),
        ServiceKind::InferenceService => format!("spec.predictor.minReplicas -> {replicas}"),
    };
    let manager = field_manager(caller);
    let what = what(kind, namespace, name);
    let change = async {
        match kind {
            ServiceKind::Deployment => {
                if let Some(hpa) = state
                    .services
                    .read()?
                    .autoscaler_of(namespace, name)
                    .cloned()
                {
                    return Err(AppError::Conflict {
                        reason: format!(
                            "the HorizontalPodAutoscaler {} sets {name}'s replicas (between {} and {}); change its bounds instead",
                            hpa.name, hpa.min, hpa.max
                        ),
                    });
                }
                let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
                let params = PostParams {
                    field_manager: Some(manager.clone()),
                    ..Default::default()
                };
                at_generation(&api, name, generation, &what, |current| {
                    let scale = Scale {
                        metadata: ObjectMeta {
                            name: Some(name.into()),
                            namespace: Some(namespace.into()),
                            resource_version: current.metadata.resource_version,
                            ..Default::default()
                        },
                        spec: Some(ScaleSpec {
                            replicas: Some(replicas),
                        }),
                        status: None,
                    };
                    let (api, params) = (&api, &params);
                    async move { Ok(api.replace_scale(name, params, &scale).await.map(drop)) }
                })
                .await
            }
            ServiceKind::InferenceService => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), namespace, &inference_services());
                let params = PatchParams {
                    field_manager: Some(manager.clone()),
                    ..Default::default()
                };
                at_generation(&api, name, generation, &what, |current| {
                    let max = current.data["spec"]["predictor"]["maxReplicas"]
                        .as_i64()
                        .unwrap_or(0) as i32;
                    let patch = serde_json::json!({
                        "metadata": { "resourceVersion": current.metadata.resource_version },
                        "spec": { "predictor": { "minReplicas": replicas, "maxReplicas": max.max(replicas) } }
                    });
                    let (api, params) = (&api, &params);
                    async move {
                        Ok(api
                            .patch(name, params, &Patch::Merge(&patch))
                            .await
                            .map(drop))
                    }
                })
                .await
            }
        }
    };
    let service = (kind, namespace, name);
    audited(state, caller, "service.scale", service, &detail, change).await
}

/// Runs `work`, the caller's change `action` to the service: recorded in the audit log
/// before it starts, and again with its outcome.
pub(super) async fn audited<T>(
    state: &AppState,
    caller: &Caller,
    action: &str,
    (kind, namespace, name): (ServiceKind, &str, &str),
    detail: &str,
    work: impl Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    let object = format!("{}/{namespace}/{name}", kind.slug());
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action,
        object: &object,
        detail,
    };
    crate::audit::around(&state.db, entry, work).await?
}

/// A change must say which generation of the spec it was based on.
pub(super) fn check_generation(generation: i64) -> Result<(), AppError> {
    if generation < 1 {
        return Err(AppError::invalid(
            "generation",
            format!("must be the metadata.generation the change is based on (1 or more), got {generation}"),
        ));
    }
    Ok(())
}

/// Runs `write` on the object as it is now, if its spec is still at `generation`; else 409
/// naming who changed it. See [`unchanged`].
pub(super) async fn at_generation<K, T, F, Fut>(
    api: &Api<K>,
    name: &str,
    generation: i64,
    what: &str,
    write: F,
) -> Result<T, AppError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    F: FnMut(K) -> Fut,
    Fut: Future<Output = Result<Result<T, kube::Error>, AppError>>,
{
    let same = |current: &K| current.meta().generation == Some(generation);
    unchanged(api, name, what, same, write).await
}

/// Runs `write` on the object as it is now, if it is still the one the caller saw (`same`);
/// else 409 naming who changed it. `write` gets the object just read and sends its
/// `resourceVersion`, so that nothing lands between the check and the write: when the API
/// server refuses it (409: the status moved meanwhile), it is read and checked again, at
/// most [`WRITE_TRIES`] times. `write`'s own refusals (before it writes) are its outer error.
pub(super) async fn unchanged<K, T, F, Fut>(
    api: &Api<K>,
    name: &str,
    what: &str,
    same: impl Fn(&K) -> bool,
    mut write: F,
) -> Result<T, AppError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    F: FnMut(K) -> Fut,
    Fut: Future<Output = Result<Result<T, kube::Error>, AppError>>,
{
    for _ in 0..WRITE_TRIES {
        let current = api
            .get(name)
            .await
            .map_err(|e| AppError::from_kube(e, what))?;
        if !same(&current) {
            return Err(changed_by(current.meta(), what));
        }
        match write(current).await? {
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            done => return done.map_err(|e| AppError::from_kube(e, what)),
        }
    }
    Err(AppError::Conflict {
        reason: format!(
            "{what} kept changing while it was written ({WRITE_TRIES} tries); try again"
        ),
    })
}

/// 409: `what` is no longer as the caller saw it, and who changed it last.
fn changed_by(meta: &ObjectMeta, what: &str) -> AppError {
    let who = super::managers::Managers::of(meta).who();
    AppError::Conflict {
        reason: format!(
            "{what} was changed by {who} since you opened it; reload to see the change, then try again"
        ),
    }
}

pub(super) fn what(kind: ServiceKind, namespace: &str, name: &str) -> String {
    format!("{} {namespace}/{name}", kind.label())
}

/// The field manager Gantry's writes carry: the user's name, so that a later conflict (or
/// anyone reading managedFields) can tell who made the change.
pub(super) fn field_manager(caller: &Caller) -> String {
    format!("gantry:{}", caller.username)
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RolledBack {
    /// The revision (Deployment) whose template now runs, or the model URI
    /// (InferenceService) now served.
    pub to: String,
    /// False when there was nothing to do: the current template already is that revision's.
    pub changed: bool,
}

/// The annotations a rollback keeps from the Deployment instead of copying from the
/// ReplicaSet: kubectl's `annotationsToSkip`.
const KEPT_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Rolls the service back as the caller, if its spec is still at `generation`, audited
/// whatever the outcome.
///
/// A Deployment: exactly `kubectl rollout undo [--to-revision=N]` (`to_revision` 0 is the
/// revision before the current one), see [`rolled_back`]; refused while paused; nothing
/// done when the template already is that revision's. An InferenceService: back to the model it
/// served before the current one, by the serving history.
pub async fn roll_back(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
    to_revision: i64,
    generation: i64,
) -> Result<RolledBack, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::OperateCluster, Some(namespace))?;
    if to_revision < 0 {
        return Err(AppError::invalid(
            "to_revision",
            format!(
                "must be a revision number, or 0 for the one before the current, got {to_revision}"
            ),
        ));
    }
    check_generation(generation)?;
    let client = state.cluster.as_user(caller)?;
    let detail = match (kind, to_revision) {
        (ServiceKind::InferenceService, _) => "to the previous model".to_string(),
        (ServiceKind::Deployment, 0) => "to the previous revision".to_string(),
        (ServiceKind::Deployment, n) => format!("to revision {n}"),
    };
    let params = PatchParams {
        field_manager: Some(field_manager(caller)),
        ..Default::default()
    };
    let what = what(kind, namespace, name);
    let change = async {
        match kind {
            ServiceKind::Deployment => {
                let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
                let put = PostParams {
                    field_manager: params.field_manager.clone(),
                    ..Default::default()
                };
                at_generation(&api, name, generation, &what, |deployment| {
                    let (api, put, what, client) = (&api, &put, &what, client.clone());
                    async move {
                        let target =
                            revision_to(client, namespace, &deployment, to_revision).await?;
                        let number = revision_number(&target.metadata).to_string();
                        if deployment
                            .spec
                            .as_ref()
                            .is_some_and(|s| s.paused == Some(true))
                        {
                            return Err(AppError::Conflict {
                                reason: format!("{what} is paused: resume it before rolling back"),
                            });
                        }
                        let Some(mut restored) = rolled_back(&deployment, &target) else {
                            return Ok(Ok(RolledBack {
                                to: number,
                                changed: false,
                            }));
                        };
                        // Sent whole, with the resourceVersion just read, as kubectl does.
                        restored.metadata.managed_fields = None;
                        Ok(api.replace(name, put, &restored).await.map(|_| RolledBack {
                            to: number,
                            changed: true,
                        }))
                    }
                })
                .await
            }
            ServiceKind::InferenceService => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), namespace, &inference_services());
                at_generation(&api, name, generation, &what, |current| {
                    let (api, params, what) = (&api, &params, &what);
                    async move {
                        let model = &current.data["spec"]["predictor"]["model"];
                        let Some(uri) = model["storageUri"].as_str() else {
                            return Err(AppError::Conflict {
                                reason: format!("{what} serves a custom container, not a model URI: roll back its image instead"),
                            });
                        };
                        let key = (kind, namespace.to_string(), name.to_string());
                        let earlier = super::store::of_service(&state.db, &key, super::HISTORY_SHOWN)
                            .await?
                            .into_iter()
                            .find(|h| h.model != uri && !h.model.is_empty())
                            .ok_or_else(|| AppError::Conflict {
                                reason: format!(
                                    "{what} has served no other model since Gantry has known it"
                                ),
                            })?;
                        let patch = serde_json::json!({
                            "metadata": { "resourceVersion": current.metadata.resource_version },
                            "spec": { "predictor": { "model": { "storageUri": earlier.model } } }
                        });
                        Ok(api
                            .patch(name, params, &Patch::Merge(&patch))
                            .await
                            .map(|_| RolledBack {
                                to: earlier.model,
                                changed: true,
                            }))
                    }
                })
                .await
            }
        }
    };
    let service = (kind, namespace, name);
    audited(state, caller, "service.rollback", service, &detail, change).await
}

/// The Deployment's ReplicaSet of revision `to` (0: the newest before the current one), as
/// kubectl picks it.
async fn revision_to(
    client: kube::Client,
    namespace: &str,
    deployment: &Deployment,
    to: i64,
) -> Result<ReplicaSet, AppError> {
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let selector = deployment
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut owned: Vec<ReplicaSet> = Api::<ReplicaSet>::namespaced(client, namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| AppError::from_kube(e, "replica sets"))?
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .collect();
    owned.sort_by_key(|rs| std::cmp::Reverse(revision_number(&rs.metadata)));
    let name = deployment.metadata.name.clone().unwrap_or_default();
    if to == 0 {
        return owned.into_iter().nth(1).ok_or_else(|| AppError::Conflict {
            reason: format!("deployment {name} has no earlier revision to roll back to"),
        });
    }
    owned
        .into_iter()
        .find(|rs| revision_number(&rs.metadata) == to)
        .ok_or_else(|| AppError::not_found(format!("revision {to} of deployment {name}")))
}

/// `deployment` with `target`'s revision restored as `kubectl rollout undo` restores it:
/// the ReplicaSet's pod template without its `pod-template-hash` label, and its
/// annotations but for the rollout's own, which stay the Deployment's. `None` when the
/// template already is the target's.
pub fn rolled_back(deployment: &Deployment, target: &ReplicaSet) -> Option<Deployment> {
    let without_hash = |template: &k8s_openapi::api::core::v1::PodTemplateSpec| {
        let mut template = template.clone();
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove("pod-template-hash");
        }
        template
    };
    let restored = without_hash(target.spec.as_ref()?.template.as_ref()?);
    let mut result = deployment.clone();
    let spec = result.spec.as_mut()?;
    if without_hash(&spec.template) == restored {
        return None;
    }
    spec.template = restored;
    let mut annotations = std::collections::BTreeMap::new();
    for key in KEPT_ANNOTATIONS {
        if let Some(value) = deployment
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
        {
            annotations.insert(key.to_string(), value.clone());
        }
    }
    for (key, value) in target.metadata.annotations.iter().flatten() {
        if !KEPT_ANNOTATIONS.contains(&key.as_str()) {
            annotations.insert(key.clone(), value.clone());
        }
    }
    result.metadata.annotations = Some(annotations);
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(image: &str, annotations: serde_json::Value) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "d", "annotations": annotations },
            "spec": {
                "selector": { "matchLabels": { "app": "d" } },
                "template": {
                    "metadata": { "labels": { "app": "d" } },
                    "spec": { "containers": [{ "name": "s", "image": image }] }
                }
            }
        }))
        .unwrap()
    }

    fn replica_set(image: &str, annotations: serde_json::Value) -> ReplicaSet {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "d-abc", "annotations": annotations },
            "spec": {
                "selector": { "matchLabels": { "app": "d", "pod-template-hash": "abc" } },
                "template": {
                    "metadata": { "labels": { "app": "d", "pod-template-hash": "abc" } },
                    "spec": { "containers": [{ "name": "s", "image": image }] }
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_rollback_restores_the_template_without_its_hash_and_keeps_the_rollouts_annotations() {
        let now = deployment(
            "m:2",
            serde_json::json!({ "deployment.kubernetes.io/revision": "2", "team": "new" }),
        );
        let old = replica_set(
            "m:1",
            serde_json::json!({ "deployment.kubernetes.io/revision": "1", "team": "old",
                "kubernetes.io/change-cause": "first" }),
        );
        let restored = rolled_back(&now, &old).unwrap();
        let template = &restored.spec.as_ref().unwrap().template;
        assert_eq!(
            template.spec.as_ref().unwrap().containers[0]
                .image
                .as_deref(),
            Some("m:1")
        );
        let labels = template.metadata.as_ref().unwrap().labels.clone().unwrap();
        assert_eq!(labels.len(), 1, "{labels:?}");
        let annotations = restored.metadata.annotations.unwrap();
        assert_eq!(annotations["deployment.kubernetes.io/revision"], "2");
        assert_eq!(annotations["team"], "old");
        assert_eq!(annotations["kubernetes.io/change-cause"], "first");
        // Back to what already runs: nothing to do.
        assert!(rolled_back(&now, &replica_set("m:2", serde_json::json!({}))).is_none());
    }
}
