//! Training jobs: launch GPU jobs and watch them live.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::layout::EmptyState;

/// The training jobs list.
#[component]
pub fn JobsPage() -> impl IntoView {
    view! {
        <Title text="Training jobs" />
        <EmptyState
            title="Training jobs"
            summary="Launch GPU training jobs from a form and follow them from Pending to done."
        >
            <p>"No training jobs yet. Here you will:"</p>
            <ul>
                <li>"launch a job by choosing an image, a GPU model and a GPU count;"</li>
                <li>"see each job's status live, and why it is Pending if it waits for GPUs;"</li>
                <li>"follow its pods, events and logs, and keep its history after the cluster forgets it."</li>
            </ul>
        </EmptyState>
    }
}
