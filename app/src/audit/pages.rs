//! The audit log table with its filters, as the Admin area shows it.

use leptos::prelude::*;

use super::{list_audit, AuditEntry, AuditFilter};

/// The audit log table with its filters, as the Admin area shows it.
#[component]
pub fn AuditLog() -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let object = RwSignal::new(String::new());
    let since = RwSignal::new(String::new());
    let until = RwSignal::new(String::new());
    let filter = Memo::new(move |_| AuditFilter {
        actor: actor.get(),
        action: action.get(),
        object: object.get(),
        since: since.get(),
        until: until.get(),
    });
    // Fetched by the browser after hydration, not rendered on the server: the log changes
    // between the render and the hydration (this very page view may add entries), and a
    // server-rendered table that differs from what the wasm fetches cannot be hydrated.
    let entries = LocalResource::new(move || list_audit(filter.get()));
    let csv_href = move || {
        let f = filter.get();
        let pairs = [
            ("actor", f.actor),
            ("action", f.action),
            ("object", f.object),
            ("since", f.since),
            ("until", f.until),
        ];
        let query: Vec<String> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", crate::url::encode_component(&v)))
            .collect();
        format!("/admin/audit.csv?{}", query.join("&"))
    };
    view! {
        <section class="audit" aria-label="Audit log">
            <h2>"Audit log"</h2>
            <div class="filters">
                <FilterField label="User" value=actor placeholder="alice" />
                <FilterField label="Action" value=action placeholder="login" />
                <FilterField label="Object" value=object placeholder="team-a" />
                <FilterField label="Since" value=since placeholder="2026-11-29" />
                <FilterField label="Until" value=until placeholder="2026-11-30" />
                // A file from the server, not a page: `download` keeps the router's hands off.
                <a class="button" href=csv_href download="gantry-audit.csv">
                    "Export CSV"
                </a>
            </div>
            // Deliberately no Suspense: a plain reactive block renders "Loading…" on the
            // server and in the first hydrated frame alike, then the rows once fetched.
            {move || match entries.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => {
                    view! { <p class="empty">"No entries match."</p> }.into_any()
                }
                Some(Ok(rows)) => view! { <AuditTable rows /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="audit-table">
                <thead>
                    <tr>
                        <th>"When (UTC)"</th>
                        <th>"User"</th>
                        <th>"Action"</th>
                        <th>"Object"</th>
                        <th>"Detail"</th>
                        <th>"Result"</th>
                        <th>"Client"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|e| {
                            view! {
                                <tr>
                                    <td>{e.at}</td>
                                    <td>{e.actor}</td>
                                    <td>{e.action}</td>
                                    <td>{e.object}</td>
                                    <td>{e.detail}</td>
                                    <td>{e.result}</td>
                                    <td>{e.client}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// One filter box; the list reloads when the value is committed (Enter or leaving the box).
#[component]
fn FilterField(
    label: &'static str,
    value: RwSignal<String>,
    placeholder: &'static str,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type="search"
                placeholder=placeholder
                prop:value=move || value.get()
                on:change=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}
