//! Admin: accounts, roles and the audit log.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::layout::EmptyState;

/// The administration area.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin" />
        <EmptyState
            title="Admin"
            summary="Who may use Gantry, what each of them may do, and a record of what they did."
        >
            <p>"Nothing to administer yet. This area will hold:"</p>
            <ul>
                <li>"accounts, their roles and the namespaces each may use;"</li>
                <li>"API tokens for automation;"</li>
                <li>"the audit log of every login and every change made to the cluster, with filters and CSV export."</li>
            </ul>
        </EmptyState>
    }
}
