//! The Serving area's pages: the list of inference services, one service, and where a
//! registered model served.

pub mod autoscaling;
pub mod canary;
pub mod detail;
pub mod list;
pub mod record;
pub mod rollback;
pub mod rollout;
pub mod scale;
pub mod served;

use leptos::prelude::*;

use super::{Autoscaling, Replicas, ServiceKind, ServiceRow, MAX_REPLICAS};

/// Which service a form changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTarget {
    pub kind: ServiceKind,
    pub namespace: String,
    pub name: String,
}

/// A replica count as typed, offered within the bounds the server checks (from `lowest`
/// to MAX_REPLICAS); what does not parse is the server's to refuse, naming the field.
#[component]
pub fn ReplicaCount(label: &'static str, lowest: i32, typed: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type="number"
                min=lowest
                max=MAX_REPLICAS
                prop:value=move || typed.get()
                on:input=move |ev| typed.set(event_target_value(&ev))
            />
        </label>
    }
}

/// "2 of 3 ready", with available when it differs.
pub fn replicas_text(r: &Replicas) -> String {
    let mut text = format!("{} of {} ready", r.ready, r.desired);
    if r.available != r.ready {
        text.push_str(&format!(", {} available", r.available));
    }
    text
}

/// "HPA 2–6 on cpu 70%, wants 3", or "fixed".
pub fn autoscaling_text(a: Option<&Autoscaling>) -> String {
    match a {
        None => "fixed".into(),
        Some(a) => {
            let mut text = format!("{}–{} on {}", a.min, a.max, a.target);
            if let Some(desired) = a.desired {
                text.push_str(&format!(", wants {desired}"));
            }
            text
        }
    }
}

/// "Ready", or the reason it is not.
pub fn status_text(row: &ServiceRow) -> String {
    if row.ready {
        "Ready".into()
    } else {
        row.reason.clone().unwrap_or_else(|| "Not ready".into())
    }
}

/// The model, and the registered version it is when the registry knows it.
pub fn model_text(row: &ServiceRow) -> String {
    match &row.version {
        Some(version) => format!("{version} ({})", row.model),
        None => row.model.clone(),
    }
}

/// The service page's address.
pub fn href(row: &ServiceRow) -> String {
    format!(
        "/serving/{}/{}/{}",
        row.kind.slug(),
        crate::url::encode_component(&row.namespace),
        crate::url::encode_component(&row.name)
    )
}
