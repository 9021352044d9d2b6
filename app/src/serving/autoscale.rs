//! The Serving area's autoscaling, as the caller (server only): a Deployment's
//! HorizontalPodAutoscaler created, changed or deleted; an InferenceService's predictor
//! bounds and scale metric, which KServe's own HPA then follows. Each is audited whatever
//! its outcome, and refused with 409 when the autoscaling is no longer what the caller saw
//! ([`ServiceDetail::autoscaling_basis`](super::ServiceDetail::autoscaling_basis)).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{
    DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
    Preconditions,
};
use kube::Api;

use super::actions::{at_generation, audited, check_generation, field_manager, unchanged, what};
use super::cache::{fingerprint, scaled_deployment};
use super::server::inference_services;
use super::{AutoscalingChange, Goal, ServiceKind, MAX_REPLICAS};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// The highest utilisation a Deployment's HPA may aim at, in percent of the pods' requests
/// (above 100 is a real choice for pods that burst past their requests).
const UTILISATION_MAX: i32 = 1_000;
/// KServe refuses a utilisation target above this.
const KSERVE_UTILISATION_MAX: i32 = 100;
/// The highest per-pod average a custom metric may aim at.
const AVERAGE_MAX: i32 = 1_000_000;
/// The longest custom metric name accepted.
const METRIC_NAME_MAX: usize = 200;
/// The longest `based_on` accepted (a generation or a fingerprint is far shorter).
const BASED_ON_MAX: usize = 64;

/// Checks a change before anything is read or written: each problem names its field.
pub fn check(kind: ServiceKind, change: &AutoscalingChange) -> Result<(), AppError> {
    let AutoscalingChange {
        min,
        max,
        goal,
        based_on,
    } = change;
    if !(1..=MAX_REPLICAS).contains(min) {
        return Err(AppError::invalid(
            "min",
            format!("must be between 1 and {MAX_REPLICAS}, got {min}"),
        ));
    }
    if !(*min..=MAX_REPLICAS).contains(max) {
        return Err(AppError::invalid(
            "max",
            format!("must be between min ({min}) and {MAX_REPLICAS}, got {max}"),
        ));
    }
    let utilisation = Goal::is_utilisation(&goal.metric);
    match kind {
        ServiceKind::InferenceService if !utilisation => {
            return Err(AppError::invalid(
                "goal.metric",
                format!(
                    "KServe autoscales an InferenceService on cpu or memory, got {:?}",
                    goal.metric
                ),
            ))
        }
        ServiceKind::Deployment if !utilisation && !is_metric_name(&goal.metric) => {
            return Err(AppError::invalid(
                "goal.metric",
                format!(
                    "must be cpu, memory, or a custom metric's name (letters, digits, _ and :, at most {METRIC_NAME_MAX}), got {:?}",
                    goal.metric
                ),
            ))
        }
        _ => {}
    }
    let (highest, unit) = match (kind, utilisation) {
        (ServiceKind::InferenceService, _) => (KSERVE_UTILISATION_MAX, "percent"),
        (ServiceKind::Deployment, true) => (UTILISATION_MAX, "percent"),
        (ServiceKind::Deployment, false) => (AVERAGE_MAX, "per pod"),
    };
    if !(1..=highest).contains(&goal.value) {
        return Err(AppError::invalid(
            "goal.value",
            format!(
                "must be between 1 and {highest} ({unit}), got {}",
                goal.value
            ),
        ));
    }
    if based_on.len() > BASED_ON_MAX {
        return Err(AppError::invalid(
            "based_on",
            format!("must be at most {BASED_ON_MAX} characters"),
        ));
    }
    Ok(())
}

/// A metric name as Prometheus and the custom metrics API spell them.
fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= METRIC_NAME_MAX
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The HPA metric that aims at `goal`.
pub fn metric_spec(goal: &Goal) -> MetricSpec {
    if Goal::is_utilisation(&goal.metric) {
        MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: goal.metric.clone(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(goal.value),
                    ..Default::default()
                },
            }),
            ..Default::default()
        }
    } else {
        MetricSpec {
            type_: "Pods".into(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier {
                    name: goal.metric.clone(),
                    selector: None,
                },
                target: MetricTarget {
                    type_: "AverageValue".into(),
                    average_value: Some(Quantity(goal.value.to_string())),
                    ..Default::default()
                },
            }),
            ..Default::default()
        }
    }
}

/// Sets the service's autoscaling as the caller (an ops admin; the cluster's RBAC decides
/// too), audited whatever the outcome. Answers what was done, in words.
pub async fn set(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
    change: &AutoscalingChange,
) -> Result<String, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::OperateCluster, Some(namespace))?;
    check(kind, change)?;
    let client = state.cluster.as_user(caller)?;
    let detail = change.to_string();
    let work = async {
        match kind {
            ServiceKind::Deployment => {
                set_hpa(client, caller, namespace, name, change, &detail).await
            }
            ServiceKind::InferenceService => {
                set_predictor(client, caller, namespace, name, change, &detail).await
            }
        }
    };
    let service = (kind, namespace, name);
    audited(state, caller, "service.autoscale", service, &detail, work).await
}

/// Deletes a Deployment's HPA as the caller, audited whatever the outcome; its replicas stay
/// where the HPA left them. An InferenceService's HPA is KServe's: it is refused.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
    based_on: &str,
) -> Result<String, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::OperateCluster, Some(namespace))?;
    if kind == ServiceKind::InferenceService {
        return Err(AppError::invalid(
            "kind",
            "KServe keeps an HPA for every InferenceService it runs as a Deployment: set its minimum and maximum to the same count to hold its replicas",
        ));
    }
    let client = state.cluster.as_user(caller)?;
    let work = async {
        let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
        let Some(hpa) = autoscaler_of(&hpas, namespace, name).await? else {
            return Err(AppError::Conflict {
                reason: format!("deployment {namespace}/{name} has no HorizontalPodAutoscaler (anymore); reload to see it"),
            });
        };
        let hpa_what = format!("HorizontalPodAutoscaler {namespace}/{hpa}");
        let same = |h: &HorizontalPodAutoscaler| fingerprint(&h.spec) == based_on;
        unchanged(&hpas, &hpa, &hpa_what, same, |current| {
            // Deleted only as it was checked: a write in between makes this a 409, read again.
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: current.metadata.resource_version,
                    uid: current.metadata.uid,
                }),
                ..Default::default()
            };
            let (hpas, hpa) = (&hpas, &hpa);
            async move { Ok(hpas.delete(hpa, &params).await.map(drop)) }
        })
        .await?;
        Ok(format!(
            "Deleted the HorizontalPodAutoscaler {hpa}: {name} stays at its replicas until scaled."
        ))
    };
    let service = (kind, namespace, name);
    let detail = "HorizontalPodAutoscaler deleted";
    audited(
        state,
        caller,
        "service.autoscale.remove",
        service,
        detail,
        work,
    )
    .await
}

/// The HPA that scales Deployment `name`, read as the caller.
async fn autoscaler_of(
    hpas: &Api<HorizontalPodAutoscaler>,
    namespace: &str,
    name: &str,
) -> Result<Option<String>, AppError> {
    let listed = hpas
        .list(&ListParams::default())
        .await
        .map_err(|e| AppError::from_kube(e, &format!("HorizontalPodAutoscalers in {namespace}")))?;
    Ok(listed
        .items
        .into_iter()
        .find(|h| scaled_deployment(h) == Some(name))
        .and_then(|h| h.metadata.name))
}

/// A Deployment's HPA, created when it has none (named as the Deployment), else changed:
/// its bounds set and its metrics replaced by the one goal; its behaviour is kept.
async fn set_hpa(
    client: kube::Client,
    caller: &Caller,
    namespace: &str,
    name: &str,
    change: &AutoscalingChange,
    detail: &str,
) -> Result<String, AppError> {
    // Only an existing Deployment gets an HPA: a typo is a 404, not an HPA that scales nothing.
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| AppError::from_kube(e, &what(ServiceKind::Deployment, namespace, name)))?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client, namespace);
    let manager = field_manager(caller);
    match autoscaler_of(&hpas, namespace, name).await? {
        None if !change.based_on.is_empty() => Err(AppError::Conflict {
            reason: format!("deployment {namespace}/{name}'s HorizontalPodAutoscaler was deleted since you opened it; reload to see it, then try again"),
        }),
        None => {
            let hpa = HorizontalPodAutoscaler {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(namespace.into()),
                    ..Default::default()
                },
                spec: HorizontalPodAutoscalerSpec {
                    scale_target_ref: CrossVersionObjectReference {
                        api_version: Some("apps/v1".into()),
                        kind: "Deployment".into(),
                        name: name.into(),
                    },
                    min_replicas: Some(change.min),
                    max_replicas: change.max,
                    metrics: Some(vec![metric_spec(&change.goal)]),
                    behavior: None,
                },
                status: None,
            };
            let params = PostParams {
                field_manager: Some(manager),
                ..Default::default()
            };
            hpas.create(&params, &hpa).await.map_err(|e| {
                AppError::from_kube(e, &format!("HorizontalPodAutoscaler {namespace}/{name}"))
            })?;
            Ok(format!("Created the HorizontalPodAutoscaler {name}: {detail}."))
        }
        Some(hpa) => {
            let hpa_what = format!("HorizontalPodAutoscaler {namespace}/{hpa}");
            let params = PostParams {
                field_manager: Some(manager),
                ..Default::default()
            };
            // A caller who saw none (`based_on` empty) is refused too: one was made since.
            let same = |h: &HorizontalPodAutoscaler| fingerprint(&h.spec) == change.based_on;
            unchanged(&hpas, &hpa, &hpa_what, same, |mut current| {
                current.spec.min_replicas = Some(change.min);
                current.spec.max_replicas = change.max;
                current.spec.metrics = Some(vec![metric_spec(&change.goal)]);
                current.metadata.managed_fields = None;
                let (hpas, hpa, params) = (&hpas, &hpa, &params);
                async move { Ok(hpas.replace(hpa, params, &current).await.map(drop)) }
            })
            .await?;
            Ok(format!("Changed the HorizontalPodAutoscaler {hpa}: {detail}."))
        }
    }
}

/// An InferenceService's predictor bounds, `scaleMetric` and `scaleTarget`, if its spec is
/// still at the generation in `based_on`.
async fn set_predictor(
    client: kube::Client,
    caller: &Caller,
    namespace: &str,
    name: &str,
    change: &AutoscalingChange,
    detail: &str,
) -> Result<String, AppError> {
    let generation: i64 = change.based_on.parse().map_err(|_| {
        AppError::invalid(
            "based_on",
            format!(
                "must be the InferenceService's metadata.generation, got {:?}",
                change.based_on
            ),
        )
    })?;
    check_generation(generation)?;
    let api: Api<DynamicObject> = Api::namespaced_with(client, namespace, &inference_services());
    let params = PatchParams {
        field_manager: Some(field_manager(caller)),
        ..Default::default()
    };
    let what = what(ServiceKind::InferenceService, namespace, name);
    at_generation(&api, name, generation, &what, |current| {
        let (api, params, what) = (&api, &params, &what);
        async move {
            if !current.data["spec"]["predictor"]["autoScaling"].is_null() {
                return Err(AppError::Conflict {
                    reason: format!("{what} sets spec.predictor.autoScaling, which KServe reads instead of scaleMetric and scaleTarget: change it there"),
                });
            }
            let patch = serde_json::json!({
                "metadata": { "resourceVersion": current.metadata.resource_version },
                "spec": { "predictor": {
                    "minReplicas": change.min,
                    "maxReplicas": change.max,
                    "scaleMetric": change.goal.metric,
                    "scaleTarget": change.goal.value,
                } }
            });
            Ok(api
                .patch(name, params, &Patch::Merge(&patch))
                .await
                .map(drop))
        }
    })
    .await?;
    Ok(format!(
        "Set {name}'s autoscaling to {detail}; KServe's HPA follows."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(min: i32, max: i32, metric: &str, value: i32) -> AutoscalingChange {
        AutoscalingChange {
            min,
            max,
            goal: Goal {
                metric: metric.into(),
                value,
            },
            based_on: String::new(),
        }
    }

    fn field(result: Result<(), AppError>) -> String {
        match result {
            Err(AppError::InvalidInput { field, .. }) => field,
            other => panic!("expected a field's refusal, got {other:?}"),
        }
    }

    #[test]
    fn each_refusal_names_its_field() {
        let d = ServiceKind::Deployment;
        let i = ServiceKind::InferenceService;
        assert!(check(d, &change(1, 4, "cpu", 80)).is_ok());
        assert!(check(d, &change(2, 2, "memory", 150)).is_ok());
        assert!(check(d, &change(1, 8, "requests_per_second", 20)).is_ok());
        assert!(check(i, &change(1, 3, "memory", 70)).is_ok());
        assert_eq!(field(check(d, &change(0, 4, "cpu", 80))), "min");
        assert_eq!(field(check(d, &change(5, 4, "cpu", 80))), "max");
        assert_eq!(
            field(check(d, &change(1, MAX_REPLICAS + 1, "cpu", 80))),
            "max"
        );
        assert_eq!(field(check(i, &change(1, 4, "rps", 80))), "goal.metric");
        assert_eq!(field(check(d, &change(1, 4, "9lives", 80))), "goal.metric");
        assert_eq!(field(check(d, &change(1, 4, "a b", 80))), "goal.metric");
        assert_eq!(field(check(d, &change(1, 4, "cpu", 0))), "goal.value");
        assert_eq!(field(check(i, &change(1, 4, "cpu", 101))), "goal.value");
        assert_eq!(
            field(check(d, &change(1, 4, "cpu", UTILISATION_MAX + 1))),
            "goal.value"
        );
        let mut long = change(1, 4, "cpu", 80);
        long.based_on = "x".repeat(BASED_ON_MAX + 1);
        assert_eq!(field(check(d, &long)), "based_on");
    }

    #[test]
    fn a_goal_becomes_the_metric_an_hpa_reads_and_is_read_back_from_it() {
        for goal in [
            Goal {
                metric: "cpu".into(),
                value: 70,
            },
            Goal {
                metric: "requests_per_second".into(),
                value: 20,
            },
        ] {
            let spec = HorizontalPodAutoscalerSpec {
                metrics: Some(vec![metric_spec(&goal)]),
                ..Default::default()
            };
            let hpa = HorizontalPodAutoscaler {
                spec: HorizontalPodAutoscalerSpec {
                    scale_target_ref: CrossVersionObjectReference {
                        kind: "Deployment".into(),
                        name: "d".into(),
                        api_version: None,
                    },
                    max_replicas: 4,
                    ..spec
                },
                ..Default::default()
            };
            let seen = super::super::cache::seen_autoscaler(&hpa).unwrap();
            assert_eq!(seen.autoscaling.goal.as_ref(), Some(&goal));
            assert_eq!(seen.autoscaling.target, goal.to_string());
        }
    }
}
