//! Models: the registry of trained models and their versions.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::layout::EmptyState;

/// The model registry.
#[component]
pub fn ModelsPage() -> impl IntoView {
    view! {
        <Title text="Models" />
        <EmptyState
            title="Models"
            summary="The models your training jobs produced, each with its versions and where they came from."
        >
            <p>"No models are registered yet. The registry will list:"</p>
            <ul>
                <li>"each model and its versions, with the job that trained each one;"</li>
                <li>"where each version's files are stored;"</li>
                <li>"which version is deployed, with a button to deploy another."</li>
            </ul>
        </EmptyState>
    }
}
