//! The `audit_log` table (server only): appended to, and read with filters; never updated
//! or deleted (SQLite triggers refuse both).

use super::{AuditEntry, AuditFilter};
use crate::db::Db;
use crate::error::AppError;
use crate::time::now_rfc3339;

/// Appends one entry, stamped now.
pub async fn insert(
    db: &Db,
    actor: &str,
    action: &str,
    object: &str,
    detail: &str,
    result: &str,
    client: &str,
) -> Result<(), AppError> {
    let at = now_rfc3339();
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
    .execute(db.pool())
    .await
    .map_err(|e| AppError::internal("writing the audit log", e))?;
    Ok(())
}

/// Entries matching `filter`, newest first, at most `limit`.
pub async fn query(db: &Db, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
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
    .fetch_all(db.pool())
    .await
    .map_err(|e| AppError::internal("reading the audit log", e))
}
