//! Admin: accounts, roles and the audit log (ops admins only).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::audit::AuditLog;

/// The administration area. Its server functions refuse everyone but ops admins; the page
/// itself only arranges them.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin" />
        <section class="page">
            <h1>"Admin"</h1>
            <p class="lead">
                "Who may use Gantry, what each of them may do, and a record of what they did."
            </p>
            <AuditLog />
        </section>
    }
}
