//! The `audit_log` table (server only): appended to, and read with filters; never updated
//! or deleted (triggers refuse both, on either backend).

use super::{AuditEntry, AuditFilter};
use crate::db::{Backend, Db};
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
    insert_on(db.pool(), actor, action, object, detail, result, client).await
}

/// [`insert`] on a connection or in a transaction ([`crate::db::Tx::conn`]).
pub async fn insert_on<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
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
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(object)
    .bind(detail)
    .bind(result)
    .bind(client)
    .execute(executor)
    .await
    .map_err(|e| match crate::db::failed("writing the audit log", e) {
        // Whatever the cause, the user hears that nothing was done for want of a record.
        AppError::Internal { reference } => AppError::unavailable(
            "the audit log",
            format!("it could not be written (reference {reference}), so nothing was changed"),
        ),
        other => other,
    })?;
    Ok(())
}

/// Entries matching `filter`, newest first, at most `limit`, older than entry `before` when
/// given (how an export pages through the whole log).
pub async fn query(
    db: &Db,
    filter: &AuditFilter,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<AuditEntry>, AppError> {
    // Empty filters are bound as NULL and match everything; no SQL is built from input. The
    // action matches itself or its sub-actions, the object contains the text: both written
    // with functions the two backends share, exact and case-sensitive on both (LIKE is
    // neither on SQLite).
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    sqlx::query_as(
        "SELECT id, at, actor, action, object, detail, result, client FROM audit_log \
         WHERE ($1 IS NULL OR actor = $1) \
           AND ($2 IS NULL OR action = $2 OR substr(action, 1, length($2) + 1) = $2 || '.') \
           AND ($3 IS NULL OR replace(object, $3, '') <> object) \
           AND ($4 IS NULL OR at >= $4) \
           AND ($5 IS NULL OR at < $5) \
           AND ($7 IS NULL OR id < $7) \
         ORDER BY id DESC LIMIT $6",
    )
    .bind(opt(&filter.actor))
    .bind(opt(&filter.action))
    .bind(opt(&filter.object))
    .bind(opt(&filter.since))
    .bind(opt(&filter.until))
    .bind(limit)
    .bind(before)
    .fetch_all(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading the audit log", e))
}

/// Deletes the entries older than `before` (RFC 3339) and, past `keep` entries, the oldest:
/// the one delete path of the append-only log. The trigger that refuses deletes is lifted
/// and put back inside the same transaction, so no other connection ever sees the log
/// without it, and the deletion is itself recorded there. Returns how many went.
pub async fn expire(db: &Db, before: &str, keep: i64) -> Result<u64, AppError> {
    let failed = |e| crate::db::failed("applying the audit log's retention", e);
    // SQLite's DDL is transactional and its writers are serialised; PostgreSQL's ALTER TABLE
    // holds the table's exclusive lock until the commit, so no other session writes between.
    let (lift, restore) = match db.backend() {
        Backend::Sqlite => (
            "DROP TRIGGER audit_log_no_delete",
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        ),
        Backend::Postgres => (
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_delete",
            "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_delete",
        ),
    };
    let mut tx = db.pool().begin().await.map_err(failed)?;
    sqlx::query(lift).execute(&mut *tx).await.map_err(failed)?;
    let deleted = sqlx::query(
        "DELETE FROM audit_log WHERE at < $1 \
           OR id <= (SELECT id FROM audit_log ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(before)
    .bind(keep)
    .execute(&mut *tx)
    .await
    .map_err(failed)?
    .rows_affected();
    sqlx::query(restore)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    if deleted > 0 {
        insert_on(
            &mut *tx,
            "-",
            "audit.retention",
            "audit_log",
            &format!("{deleted} entries before {before} or beyond the newest {keep}"),
            "ok",
            "-",
        )
        .await?;
    }
    tx.commit().await.map_err(failed)?;
    Ok(deleted)
}
