//! GPU nodes: every GPU node with its model, capacity, allocation and health.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::layout::EmptyState;

/// The GPU node inventory.
#[component]
pub fn NodesPage() -> impl IntoView {
    view! {
        <Title text="GPU nodes" />
        <EmptyState
            title="GPU nodes"
            summary="Every node with GPUs: model, capacity, allocated, free and health, updated live."
        >
            <p>"No GPU nodes are listed yet. This table will show, for each node:"</p>
            <ul>
                <li>"GPU model, memory and count, as GPU Feature Discovery labels them;"</li>
                <li>"allocatable, allocated and free GPUs, MIG profiles and time-sliced replicas;"</li>
                <li>"Ready and pressure conditions, cordon and taints, and the pods holding GPUs."</li>
            </ul>
        </EmptyState>
    }
}
