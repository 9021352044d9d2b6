//! Scaling a service on its page, for ops admins: a Deployment's replicas, or an
//! InferenceService's minimum; a Deployment an HPA scales says so instead.

use leptos::prelude::*;

use super::ReplicaCount;
use crate::layout::ConfirmButton;
use crate::serving::{ScaleService, ServiceDetail, ServiceKind};

/// What the scale form is about: the form is made again (and a count typed in it dropped)
/// only when this changes, not on every status update.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleBasis {
    kind: ServiceKind,
    namespace: String,
    name: String,
    /// The replicas now: a Deployment's, or an InferenceService's minimum.
    current: i32,
    /// The HPA that sets a Deployment's replicas, and its bounds.
    owned_by: Option<(String, i32, i32)>,
}

impl ScaleBasis {
    pub fn of(detail: &ServiceDetail) -> ScaleBasis {
        let row = &detail.row;
        // An InferenceService is scaled by its predictor's minReplicas, which KServe's HPA keeps.
        let current = match row.kind {
            ServiceKind::Deployment => row.replicas.desired,
            ServiceKind::InferenceService => row
                .autoscaling
                .as_ref()
                .map_or(row.replicas.desired, |a| a.min),
        };
        let owned_by = match (row.kind, &row.autoscaling) {
            (ServiceKind::Deployment, Some(hpa)) => Some((hpa.name.clone(), hpa.min, hpa.max)),
            _ => None,
        };
        ScaleBasis {
            kind: row.kind,
            namespace: row.namespace.clone(),
            name: row.name.clone(),
            current,
            owned_by,
        }
    }
}

/// Scaling, for ops admins: how many replicas, then a confirmation that says exactly what
/// will change. A Deployment an HPA scales says so instead: its bounds decide.
#[component]
pub fn ScaleForm(
    basis: ScaleBasis,
    generation: Memo<i64>,
    scale: ServerAction<ScaleService>,
) -> impl IntoView {
    let ScaleBasis {
        kind,
        namespace,
        name,
        current,
        owned_by,
    } = basis;
    if let Some((hpa, min, max)) = owned_by {
        return view! {
            <p class="muted" data-testid="scale-owned">
                {format!(
                    "The HorizontalPodAutoscaler {hpa} sets the replicas (between {min} and {max}): change its bounds under Autoscaling to scale.",
                )}
            </p>
        }
            .into_any();
    }
    let wanted = RwSignal::new(current.to_string());
    let question = {
        let name = name.clone();
        Signal::derive(move || {
            let to = wanted.get();
            match kind {
                ServiceKind::Deployment => format!("Scale {name} from {current} to {to} replicas?"),
                ServiceKind::InferenceService => {
                    format!("Set {name}'s minimum replicas from {current} to {to}?")
                }
            }
        })
    };
    let label = match kind {
        ServiceKind::Deployment => "Replicas",
        ServiceKind::InferenceService => "Minimum replicas",
    };
    view! {
        <div class="toolbar" data-testid="scale">
            <ReplicaCount label lowest=0 typed=wanted />
            <ConfirmButton
                label="Scale"
                question
                act=Callback::new(move |()| {
                    scale
                        .dispatch(ScaleService {
                            kind,
                            namespace: namespace.clone(),
                            name: name.clone(),
                            replicas: wanted.get_untracked().trim().parse().unwrap_or(-1),
                            generation: generation.get_untracked(),
                        });
                })
            />
        </div>
    }
    .into_any()
}
