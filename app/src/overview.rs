//! Overview: the state of the whole GPU fleet on one screen.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::layout::EmptyState;

/// The landing page.
#[component]
pub fn OverviewPage() -> impl IntoView {
    view! {
        <Title text="Overview" />
        <EmptyState
            title="Overview"
            summary="How many GPUs the cluster has, how many are free right now, and what is waiting for them."
        >
            <p>"Once Gantry reads the cluster's GPU nodes, this page shows:"</p>
            <ul>
                <li>"total and free GPUs for each GPU model, and the share allocated;"</li>
                <li>"nodes that are not Ready or are cordoned;"</li>
                <li>"pods waiting for GPUs, with the scheduler's reason."</li>
            </ul>
        </EmptyState>
    }
}
