//! A service's autoscaling form, for ops admins: the bounds and the one goal, then a
//! confirmation that says exactly what will change; for a Deployment's HPA, deleting it.

use leptos::prelude::*;

use super::ReplicaCount;
use crate::layout::ConfirmButton;
use crate::serving::{
    AutoscalingChange, Goal, RemoveAutoscaling, ServiceDetail, ServiceKind, SetAutoscaling,
};

/// What the form is about: it is made again (and what was typed in it dropped) only when
/// this changes, which is when the autoscaling itself changed; not when the replicas move,
/// which an HPA makes them do at any time.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscalingBasis {
    kind: ServiceKind,
    namespace: String,
    name: String,
    /// The HPA's name, bounds and target in words, when there is one.
    current: Option<(String, i32, i32, String)>,
    /// The goal the form starts from.
    goal: Goal,
    based_on: String,
}

impl AutoscalingBasis {
    pub fn of(detail: &ServiceDetail) -> AutoscalingBasis {
        let row = &detail.row;
        let a = row.autoscaling.as_ref();
        AutoscalingBasis {
            kind: row.kind,
            namespace: row.namespace.clone(),
            name: row.name.clone(),
            current: a.map(|a| (a.name.clone(), a.min, a.max, a.target.clone())),
            goal: a.and_then(|a| a.goal.clone()).unwrap_or(Goal {
                metric: "cpu".into(),
                value: 80,
            }),
            based_on: detail.autoscaling_basis(),
        }
    }
}

/// The metric choices the form offers: a custom per-pod metric only for a Deployment's
/// HPA (KServe reads cpu or memory).
const CUSTOM: &str = "custom";

#[component]
pub fn AutoscalingForm(
    basis: AutoscalingBasis,
    /// The replicas now: what a new HPA's maximum starts from, and what a deleted one leaves.
    replicas: Signal<i32>,
    set: ServerAction<SetAutoscaling>,
    remove: ServerAction<RemoveAutoscaling>,
) -> impl IntoView {
    let AutoscalingBasis {
        kind,
        namespace,
        name,
        current,
        goal,
        based_on,
    } = basis;
    let (min, max) = match &current {
        Some((_, min, max, _)) => (*min, *max),
        None => (1, replicas.get_untracked().max(1) * 2),
    };
    let utilisation = Goal::is_utilisation(&goal.metric);
    let min_typed = RwSignal::new(min.to_string());
    let max_typed = RwSignal::new(max.to_string());
    let choice = RwSignal::new(if utilisation {
        goal.metric.clone()
    } else {
        CUSTOM.to_string()
    });
    let custom_name = RwSignal::new(if utilisation {
        String::new()
    } else {
        goal.metric.clone()
    });
    let value_typed = RwSignal::new(goal.value.to_string());
    // What the form says now; a number that does not parse goes to the server as 0, which
    // refuses it naming the field.
    let change = {
        let based_on = based_on.clone();
        move || {
            let number = |s: RwSignal<String>| s.with(|s| s.trim().parse().unwrap_or(0));
            let metric = choice.with(|c| {
                if c == CUSTOM {
                    custom_name.get().trim().to_string()
                } else {
                    c.clone()
                }
            });
            AutoscalingChange {
                min: number(min_typed),
                max: number(max_typed),
                goal: Goal {
                    metric,
                    value: number(value_typed),
                },
                based_on: based_on.clone(),
            }
        }
    };
    let question = {
        let (name, current, change) = (name.clone(), current.clone(), change.clone());
        Signal::derive(move || {
            let to = change();
            match (kind, &current) {
                (ServiceKind::InferenceService, Some((_, lo, hi, target))) => format!(
                    "Set {name}'s autoscaling from {lo}–{hi} on {target} to {to}? KServe's HPA follows."
                ),
                (ServiceKind::InferenceService, None) => {
                    format!("Set {name}'s autoscaling to {to}? KServe's HPA follows.")
                }
                (ServiceKind::Deployment, Some((hpa, lo, hi, target))) => format!(
                    "Change the HorizontalPodAutoscaler {hpa} from {lo}–{hi} on {target} to {to}?"
                ),
                (ServiceKind::Deployment, None) => format!(
                    "Create a HorizontalPodAutoscaler for {name}: {to}? It sets the replicas from then on."
                ),
            }
        })
    };
    let apply = {
        let (namespace, name) = (namespace.clone(), name.clone());
        Callback::new(move |()| {
            set.dispatch(SetAutoscaling {
                kind,
                namespace: namespace.clone(),
                name: name.clone(),
                change: change(),
            });
        })
    };
    let removal = match (kind, &current) {
        (ServiceKind::Deployment, Some((hpa, ..))) => {
            let (hpa, named) = (hpa.clone(), name.clone());
            let question = Signal::derive(move || {
                format!(
                    "Delete the HorizontalPodAutoscaler {hpa}? {named} stays at {} replicas, and nothing scales it until you do.",
                    replicas.get()
                )
            });
            let act = Callback::new(move |()| {
                remove.dispatch(RemoveAutoscaling {
                    kind,
                    namespace: namespace.clone(),
                    name: name.clone(),
                    based_on: based_on.clone(),
                });
            });
            Some(view! {
                <ConfirmButton label="Remove autoscaling" question=question act />
            })
        }
        _ => None,
    };
    let unit = move || {
        if choice.with(|c| c == CUSTOM) {
            "average per pod"
        } else {
            "% of requests"
        }
    };
    view! {
        <div class="toolbar" data-testid="autoscaling">
            <ReplicaCount label="Min" lowest=1 typed=min_typed />
            <ReplicaCount label="Max" lowest=1 typed=max_typed />
            <label>
                "Metric"
                // Named on its own: a wrapping label's name would take in the options' text.
                <select
                    aria-label="Metric"
                    prop:value=move || choice.get()
                    on:change=move |ev| choice.set(event_target_value(&ev))
                >
                    <option value="cpu" selected=move || choice.with(|c| c == "cpu")>
                        "cpu"
                    </option>
                    <option value="memory" selected=move || choice.with(|c| c == "memory")>
                        "memory"
                    </option>
                    {(kind == ServiceKind::Deployment)
                        .then(|| {
                            view! {
                                <option value=CUSTOM selected=move || choice.with(|c| c == CUSTOM)>
                                    "custom per-pod metric"
                                </option>
                            }
                        })}
                </select>
            </label>
            <Show when=move || choice.with(|c| c == CUSTOM)>
                <label>
                    "Metric name"
                    <input
                        type="text"
                        prop:value=move || custom_name.get()
                        on:input=move |ev| custom_name.set(event_target_value(&ev))
                    />
                </label>
            </Show>
            <label>
                "Target"
                <input
                    type="number"
                    min="1"
                    prop:value=move || value_typed.get()
                    on:input=move |ev| value_typed.set(event_target_value(&ev))
                />
                <span class="muted">{unit}</span>
            </label>
            <ConfirmButton label="Set autoscaling" question act=apply />
            {removal}
        </div>
    }
}
