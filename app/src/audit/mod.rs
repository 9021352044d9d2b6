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

/// Runs `work`, a change to the cluster, on the record: an "attempted" row first (if it
/// cannot be written the change is refused and never made), then the outcome, "ok" or the
/// error the user saw. A failure to write the outcome is logged, not returned: the change is
/// made and its attempt recorded, and what follows it (the job's history) must not be lost.
#[cfg(feature = "ssr")]
pub async fn around<T, E: std::fmt::Display>(
    db: &Db,
    entry: Entry<'_>,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<Result<T, E>, AppError> {
    let client = crate::auth::caller::client_address();
    let Entry {
        actor,
        action,
        object,
        detail,
    } = entry;
    record(db, actor, action, object, detail, "attempted", &client).await?;
    let outcome = work.await;
    let result = match &outcome {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    if let Err(error) = record(db, actor, action, object, detail, &result, &client).await {
        tracing::warn!(%error, action, object, %result, "the outcome of an audited change was not recorded");
    }
    Ok(outcome)
}

/// What a change is, for its audit row.
#[cfg(feature = "ssr")]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub object: &'a str,
    pub detail: &'a str,
}

/// Finishes a change to Gantry's own tables made in `tx`: when it worked, its audit row is
/// written in the same transaction and both commit together (an audit write that fails
/// takes the change with it); when it failed, `tx` rolls back and the refusal is audited.
#[cfg(feature = "ssr")]
pub async fn committed<T>(
    db: &Db,
    mut tx: crate::db::Tx,
    entry: Entry<'_>,
    outcome: Result<T, AppError>,
) -> Result<T, AppError> {
    let client = crate::auth::caller::client_address();
    match outcome {
        Ok(value) => {
            store::insert_on(
                tx.conn(),
                entry.actor,
                entry.action,
                entry.object,
                entry.detail,
                "ok",
                &client,
            )
            .await?;
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            drop(tx);
            // Nothing changed; the refusal is recorded when the database can take it (not
            // when the refusal was the database being busy or full), and the user hears
            // the refusal's own reason either way.
            let database_down = matches!(&error, AppError::Unavailable { service, .. } if service == crate::db::SERVICE);
            if !database_down {
                let result = error.to_string();
                let written = record(
                    db,
                    entry.actor,
                    entry.action,
                    entry.object,
                    entry.detail,
                    &result,
                    &client,
                )
                .await;
                if let Err(e) = written {
                    tracing::warn!(error = %e, action = entry.action, "a refused change was not audited");
                }
            }
            Err(error)
        }
    }
}

/// Appends one entry. Failing to audit fails the action that wanted auditing: an
/// unrecorded change is worse than a refused one.
#[cfg(feature = "ssr")]
pub use store::insert as record;

/// The audit log, filtered (ops admins only).
#[server(endpoint = "audit")]
pub async fn list_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    let (state, _) = crate::state::caller(crate::auth::rules::Action::Administer, None)?;
    store::query(&state.db, &filter, PAGE_SIZE, None).await
}
