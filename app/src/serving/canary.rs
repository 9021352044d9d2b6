//! An InferenceService's canary, as the caller (server only): KServe's
//! `spec.predictor.canaryTrafficPercent`. KServe splits requests between revisions only in
//! Knative mode: its Knative reconciler is the field's one reader (KServe v0.17), and in
//! Standard (RawDeployment) mode the field is ignored and a new model replaces the pods in
//! a rolling update. There a canary is refused, saying why, rather than set to no effect.
//! A plain Deployment has no revisions to weigh: [`CANARY_WITHOUT_A_MESH`](super::CANARY_WITHOUT_A_MESH) says what is
//! possible.

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::Api;

use super::actions::{at_generation, audited, check_generation, field_manager, what};
use super::cache::canary_of;
use super::rollout::check_model;
use super::server::inference_services;
use super::{CanaryAction, ServiceKind, CANARY_PERCENT};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// Starts (`to` at `percent`), promotes or aborts the InferenceService's canary as the
/// caller (an ops admin; the cluster's RBAC decides too), if its spec is still at
/// `generation`; audited whatever the outcome. Answers what was done, in words.
#[allow(clippy::too_many_arguments)]
pub async fn change(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    name: &str,
    action: CanaryAction,
    to: &str,
    percent: i64,
    generation: i64,
) -> Result<String, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::OperateCluster, Some(namespace))?;
    check_generation(generation)?;
    if action == CanaryAction::Start {
        check_model(to)?;
        if !CANARY_PERCENT.contains(&percent) {
            return Err(AppError::invalid(
                "percent",
                format!(
                    "must be {}–{} (0 is abort, 100 promote), got {percent}",
                    CANARY_PERCENT.start(),
                    CANARY_PERCENT.end()
                ),
            ));
        }
    }
    let client = state.cluster.as_user(caller)?;
    let api: Api<DynamicObject> = Api::namespaced_with(client, namespace, &inference_services());
    let what = what(ServiceKind::InferenceService, namespace, name);
    let params = PatchParams {
        field_manager: Some(field_manager(caller)),
        ..Default::default()
    };
    let work = at_generation(&api, name, generation, &what, |current| {
        let (api, params, what) = (&api, &params, &what);
        async move {
            let (patch, done) = plan(&current, what, name, action, to, percent)?;
            let mut patch = serde_json::json!({ "spec": { "predictor": patch } });
            patch["metadata"] =
                serde_json::json!({ "resourceVersion": current.metadata.resource_version });
            Ok(api
                .patch(name, params, &Patch::Merge(&patch))
                .await
                .map(|_| done))
        }
    });
    let detail = match action {
        CanaryAction::Start => format!("canary {percent}% -> {to}"),
        CanaryAction::Promote => "canary promoted".into(),
        CanaryAction::Abort => "canary aborted".into(),
    };
    let service = (ServiceKind::InferenceService, namespace, name);
    audited(state, caller, "service.canary", service, &detail, work).await
}

/// The predictor's merge patch for `action` on `isvc` as it is now, and what it does in
/// words; refused where KServe would not split traffic or there is no canary to end.
fn plan(
    isvc: &DynamicObject,
    what: &str,
    name: &str,
    action: CanaryAction,
    to: &str,
    percent: i64,
) -> Result<(serde_json::Value, String), AppError> {
    let refuse = |reason: String| Err(AppError::Conflict { reason });
    let canary = canary_of(isvc);
    if !canary.splits {
        let mode = if canary.mode.is_empty() {
            "an unknown"
        } else {
            &canary.mode
        };
        return refuse(format!(
            "{what} runs in KServe's {mode} mode, where KServe does not split requests between \
             revisions (only in Knative mode): roll the model out whole instead"
        ));
    }
    let model = isvc.data["spec"]["predictor"]["model"]["storageUri"].as_str();
    match action {
        CanaryAction::Start => {
            let Some(from) = model else {
                return refuse(format!("{what} serves a custom container, not a model URI"));
            };
            Ok((
                serde_json::json!({ "canaryTrafficPercent": percent, "model": { "storageUri": to } }),
                format!("Started a canary of {name}: {percent}% of requests to {to}, the rest to {from}."),
            ))
        }
        CanaryAction::Promote => match canary.percent {
            Some(p) if p < 100 => Ok((
                serde_json::json!({ "canaryTrafficPercent": null }),
                format!("Promoted {name}'s canary: every request goes to {}.", model.unwrap_or("it")),
            )),
            _ => refuse(format!("{what} has no canary to promote")),
        },
        CanaryAction::Abort => match canary.percent {
            Some(p) if p > 0 => Ok((
                serde_json::json!({ "canaryTrafficPercent": 0 }),
                format!("Aborted {name}'s canary: every request goes back to the revision rolled out before it."),
            )),
            _ => refuse(format!("{what} has no canary to abort")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isvc(mode: &str, percent: Option<i64>) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": { "name": "iris", "annotations": { "serving.kserve.io/deploymentMode": mode } },
            "spec": { "predictor": { "canaryTrafficPercent": percent,
                "model": { "storageUri": "gs://m/2" } } },
            "status": { "components": { "predictor": { "traffic": [
                { "revisionName": "iris-predictor-00002", "percent": 10, "latestRevision": true },
                { "revisionName": "iris-predictor-00001", "percent": 90, "latestRevision": false }
            ] } } }
        }))
        .unwrap()
    }

    #[test]
    fn only_knative_mode_splits_and_the_status_shows_the_split() {
        let canary = canary_of(&isvc("Knative", Some(10)));
        assert!(canary.splits);
        assert_eq!(canary.percent, Some(10));
        assert_eq!(canary.traffic[1].percent, 90);
        assert!(canary_of(&isvc("Serverless", None)).splits);
        for mode in ["Standard", "RawDeployment", ""] {
            let error = plan(
                &isvc(mode, None),
                "it",
                "iris",
                CanaryAction::Start,
                "gs://m/3",
                10,
            )
            .unwrap_err()
            .to_string();
            assert!(error.contains("does not split"), "{mode}: {error}");
        }
    }

    #[test]
    fn promote_removes_the_percent_abort_sets_zero_and_each_needs_a_canary() {
        let running = isvc("Knative", Some(10));
        let (patch, _) = plan(&running, "it", "iris", CanaryAction::Promote, "", 0).unwrap();
        assert_eq!(patch, serde_json::json!({ "canaryTrafficPercent": null }));
        let (patch, _) = plan(&running, "it", "iris", CanaryAction::Abort, "", 0).unwrap();
        assert_eq!(patch, serde_json::json!({ "canaryTrafficPercent": 0 }));
        let (patch, said) =
            plan(&running, "it", "iris", CanaryAction::Start, "gs://m/3", 20).unwrap();
        assert_eq!(
            patch,
            serde_json::json!({ "canaryTrafficPercent": 20, "model": { "storageUri": "gs://m/3" } })
        );
        assert!(
            said.contains("20% of requests to gs://m/3, the rest to gs://m/2"),
            "{said}"
        );
        assert!(plan(
            &isvc("Knative", None),
            "it",
            "iris",
            CanaryAction::Promote,
            "",
            0
        )
        .is_err());
        assert!(plan(
            &isvc("Knative", Some(0)),
            "it",
            "iris",
            CanaryAction::Abort,
            "",
            0
        )
        .is_err());
    }
}
