//! Serving: inference services, their replicas, autoscaling and rollbacks.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::layout::EmptyState;

/// The inference services.
#[component]
pub fn ServingPage() -> impl IntoView {
    view! {
        <Title text="Serving" />
        <EmptyState
            title="Serving"
            summary="The inference services running your models, and the controls to scale and roll them back."
        >
            <p>"No inference services are shown yet. For each one this page will show:"</p>
            <ul>
                <li>"ready and desired replicas, and the autoscaler's bounds and targets;"</li>
                <li>"serving latency and GPU use from Prometheus;"</li>
                <li>"its revisions, with scale and roll back for ops admins."</li>
            </ul>
        </EmptyState>
    }
}
