//! The audit log: who did what, when, to which object, with what result. Appended by every
//! login, logout, failed login, account change and Kubernetes write; never updated or deleted
//! (the database refuses both). Ops admins read it in the Admin area and export it as CSV.
//!
//! `store` (the table), `csv` (the export's format), `api` (`/admin/audit.csv`), `pages`.

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod csv;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::db::Db;
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
/// Appends the entry for an attempted change: its outcome is "ok" or the error the user
/// saw, its client this request's address.
pub async fn attempt<T, E: std::fmt::Display>(
    db: &Db,
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
#[cfg(feature = "ssr")]
pub use store::insert as record;

/// The audit log, filtered (ops admins only).
#[server(endpoint = "audit")]
pub async fn list_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    let (state, _) = crate::state::caller(crate::auth::rules::Action::Administer, None)?;
    store::query(&state.db, &filter, PAGE_SIZE).await
}
