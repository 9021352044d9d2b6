//! The audit log: who did what, when, to which object, with what result. Appended by every
//! login, logout, failed login, account change and Kubernetes write; never updated or deleted
//! (the database refuses both). Ops admins read it in the Admin area and export it as CSV.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub at: String,
    /// The username, or `-` when nobody was logged in.
    pub actor: String,
    /// What happened: `login`, `login.failed`, `logout`, `account.create`, `node.cordon`, …
    pub action: String,
    /// What it happened to: `account/alice`, `node/gpu-h100-0`, `job/team-a/finetune`, …
    pub object: String,
    /// The change, in words or JSON; empty when the action says it all.
    pub detail: String,
    /// `ok`, `denied`, `rate-limited`, or the error.
    pub result: String,
    /// The client's address.
    pub client: String,
}

/// Filters of the audit list; empty (or absent) fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub actor: String,
    pub action: String,
    pub object: String,
    /// Entries at or after this time (a prefix such as `2026-11-29` works).
    pub since: String,
    /// Entries before this time.
    pub until: String,
}

/// The newest entries first, at most this many per page.
pub const PAGE_SIZE: i64 = 200;

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use sqlx::SqlitePool;

    use super::{AuditEntry, AuditFilter};
    use crate::error::AppError;

    /// Appends the entry for an attempted change: its outcome is "ok" or the error the user
    /// saw, its client this request's address.
    pub async fn attempt<T, E: std::fmt::Display>(
        db: &SqlitePool,
        actor: &str,
        action: &str,
        object: &str,
        detail: &str,
        outcome: &Result<T, E>,
    ) -> Result<(), AppError> {
        let result = match outcome {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        let client = crate::auth::caller::client_address();
        record(db, actor, action, object, detail, &result, &client).await
    }

    /// Appends one entry. Failing to audit fails the action that wanted auditing: an
    /// unrecorded change is worse than a refused one.
    pub async fn record(
        db: &SqlitePool,
        actor: &str,
        action: &str,
        object: &str,
        detail: &str,
        result: &str,
        client: &str,
    ) -> Result<(), AppError> {
        let at = crate::time::now_rfc3339();
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, object, detail, result, client) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(object)
        .bind(detail)
        .bind(result)
        .bind(client)
        .execute(db)
        .await
        .map_err(|e| AppError::internal("writing the audit log", e))?;
        Ok(())
    }

    /// Entries matching `filter`, newest first, at most `limit`.
    pub async fn query(
        db: &SqlitePool,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, AppError> {
        // Empty filters are bound as NULL and match everything; no SQL is built from input.
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        sqlx::query_as(
            "SELECT id, at, actor, action, object, detail, result, client FROM audit_log \
             WHERE (?1 IS NULL OR actor = ?1) \
               AND (?2 IS NULL OR action = ?2 OR action LIKE ?2 || '.%') \
               AND (?3 IS NULL OR instr(object, ?3) > 0) \
               AND (?4 IS NULL OR at >= ?4) \
               AND (?5 IS NULL OR at < ?5) \
             ORDER BY id DESC LIMIT ?6",
        )
        .bind(opt(&filter.actor))
        .bind(opt(&filter.action))
        .bind(opt(&filter.object))
        .bind(opt(&filter.since))
        .bind(opt(&filter.until))
        .bind(limit)
        .fetch_all(db)
        .await
        .map_err(|e| AppError::internal("reading the audit log", e))
    }

    /// The entries as CSV (RFC 4180), with a header line. Cells that a spreadsheet would
    /// run as a formula (`=`, `+`, `-`, `@`) are prefixed with `'`.
    pub fn to_csv(entries: &[AuditEntry]) -> String {
        fn cell(value: &str) -> String {
            let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{value}")
            } else {
                value.to_string()
            };
            if value.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", value.replace('"', "\"\""))
            } else {
                value
            }
        }
        let mut out = String::from("id,at,actor,action,object,detail,result,client\r\n");
        for e in entries {
            let cells = [
                e.id.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.object.clone(),
                e.detail.clone(),
                e.result.clone(),
                e.client.clone(),
            ];
            let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// The audit log, filtered (ops admins only).
#[server(endpoint = "audit")]
pub async fn list_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    let (state, _) = crate::state::caller(crate::auth::rules::Action::Administer, None)?;
    query(&state.db, &filter, PAGE_SIZE).await
}

/// `/admin/audit.csv?actor=…&action=…`: the filtered log as a file (ops admins only).
#[cfg(feature = "ssr")]
pub async fn export_csv(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    caller: crate::auth::caller::Caller,
    axum::extract::Query(filter): axum::extract::Query<AuditFilter>,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;

    if let Err(e) = caller.check(crate::auth::rules::Action::Administer, None) {
        return e.into_response();
    }
    // An export is not paged: up to a million lines, streamed from one query.
    match query(&state.db, &filter, 1_000_000).await {
        Ok(entries) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"gantry-audit.csv\"",
                ),
            ],
            to_csv(&entries),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

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

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn entry(actor: &str, detail: &str) -> AuditEntry {
        AuditEntry {
            id: 1,
            at: "2026-11-29T19:00:00Z".into(),
            actor: actor.into(),
            action: "login".into(),
            object: "account/alice".into(),
            detail: detail.into(),
            result: "ok".into(),
            client: "127.0.0.1".into(),
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let csv = to_csv(&[
            entry("alice", "a \"quoted\", comma"),
            entry("bob", "=HYPERLINK(1)"),
        ]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "id,at,actor,action,object,detail,result,client");
        assert_eq!(
            lines[1],
            "1,2026-11-29T19:00:00Z,alice,login,account/alice,\"a \"\"quoted\"\", comma\",ok,127.0.0.1"
        );
        assert!(lines[2].contains(",'=HYPERLINK(1),"), "{}", lines[2]);
    }
}
