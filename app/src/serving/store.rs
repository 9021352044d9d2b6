//! The serving history's table (`migrations/*/20261204210000_serving.sql`).

use std::collections::HashMap;

use super::{HistoryEntry, ServiceKind};
use crate::db::{failed, Db};
use crate::error::AppError;
use crate::time::format_unix;

/// (kind, namespace, name).
pub type ServiceKey = (ServiceKind, String, String);

/// What a service serves, and how: a change to any of it is a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serving {
    pub model: String,
    pub image: String,
    pub revision: i64,
    pub replicas: i32,
    /// "1–3 on cpu 80%", or empty without an HPA.
    pub autoscaling: String,
}

pub fn kind_of(text: &str) -> ServiceKind {
    match text {
        "InferenceService" => ServiceKind::InferenceService,
        _ => ServiceKind::Deployment,
    }
}

/// A service's last row, as [`latest`] reads it.
#[derive(sqlx::FromRow)]
struct LastRow {
    kind: String,
    namespace: String,
    name: String,
    change: String,
    model: String,
    image: String,
    revision: i64,
    replicas: i32,
    autoscaling: String,
}

/// The last state written of each service not since removed.
pub async fn latest(db: &Db) -> Result<HashMap<ServiceKey, Serving>, AppError> {
    let rows: Vec<LastRow> = sqlx::query_as(
        "SELECT kind, namespace, name, change, model, image, revision, replicas, autoscaling \
         FROM serving_history WHERE id IN \
         (SELECT MAX(id) FROM serving_history GROUP BY kind, namespace, name)",
    )
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("reading the serving history", e))?;
    Ok(rows
        .into_iter()
        .filter(|row| row.change != "removed")
        .map(|row| {
            (
                (kind_of(&row.kind), row.namespace, row.name),
                Serving {
                    model: row.model,
                    image: row.image,
                    revision: row.revision,
                    replicas: row.replicas,
                    autoscaling: row.autoscaling,
                },
            )
        })
        .collect())
}

/// Appends a row: at `at` (seconds since the epoch) `actor` changed service `key` to
/// `state` (`change` says how).
pub async fn append(
    db: &Db,
    at: u64,
    (kind, namespace, name): &ServiceKey,
    actor: &str,
    change: &str,
    state: &Serving,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO serving_history (at, kind, namespace, name, actor, change, model, image, \
         revision, replicas, autoscaling) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(format_unix(at))
    .bind(kind.label())
    .bind(namespace)
    .bind(name)
    .bind(actor)
    .bind(change)
    .bind(&state.model)
    .bind(&state.image)
    .bind(state.revision)
    .bind(state.replicas)
    .bind(&state.autoscaling)
    .execute(db.pool())
    .await
    .map_err(|e| failed("writing the serving history", e))?;
    Ok(())
}

/// The Gantry user whose change to service `key` the audit log recorded as done since
/// `since` (seconds since the epoch), the latest first.
pub async fn audited_actor(
    db: &Db,
    (kind, namespace, name): &ServiceKey,
    since: u64,
) -> Result<Option<String>, AppError> {
    sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE at >= $1 AND object = $2 AND action LIKE 'service.%' \
         AND result = 'ok' ORDER BY id DESC LIMIT 1",
    )
    .bind(format_unix(since))
    .bind(format!("{}/{namespace}/{name}", kind.slug()))
    .fetch_optional(db.pool())
    .await
    .map_err(|e| failed("reading the audit log", e))
}

/// A time a service served one model: from its first row with that model to the next row
/// with another model or its removal.
#[derive(sqlx::FromRow)]
pub struct ServedRow {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub model: String,
    pub since: String,
    /// None while it still serves it.
    pub until: Option<String>,
}

/// When services served one of `models` (URIs), newest first, at most `limit` times. The
/// history's rows are changes of state: rows in a row with the same model (a scale, say)
/// are one time, ended by the first later row of that service that serves another model or
/// says it was removed.
pub async fn served(db: &Db, models: &[String], limit: i64) -> Result<Vec<ServedRow>, AppError> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT r.kind, r.namespace, r.name, r.model, MIN(r.at) AS since, e.at AS until          FROM (SELECT h.id, h.kind, h.namespace, h.name, h.model, h.at,                  (SELECT MIN(n.id) FROM serving_history n WHERE n.namespace = h.namespace                   AND n.name = h.name AND n.kind = h.kind AND n.id > h.id                   AND (n.model <> h.model OR n.change = 'removed')) AS end_id                FROM serving_history h WHERE h.model IN ({}) AND h.change <> 'removed') r          LEFT JOIN serving_history e ON e.id = r.end_id          GROUP BY r.kind, r.namespace, r.name, r.model, r.end_id, e.at          ORDER BY MIN(r.id) DESC LIMIT ${}",
        crate::db::in_list(models.len()),
        models.len() + 1
    );
    let mut query = sqlx::query_as(&sql);
    for model in models {
        query = query.bind(model);
    }
    query
        .bind(limit)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading where models served", e))
}

/// The service's history, newest first, at most `limit` rows.
pub async fn of_service(
    db: &Db,
    (kind, namespace, name): &ServiceKey,
    limit: i64,
) -> Result<Vec<HistoryEntry>, AppError> {
    sqlx::query_as(
        "SELECT at, actor, change, model, image, revision, replicas, autoscaling \
         FROM serving_history WHERE namespace = $1 AND name = $2 AND kind = $3 \
         ORDER BY id DESC LIMIT $4",
    )
    .bind(namespace)
    .bind(name)
    .bind(kind.label())
    .bind(limit)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("reading the serving history", e))
}

/// Deletes rows older than `before` (UTC text) and beyond the newest `keep`; the count.
pub async fn expire(db: &Db, before: &str, keep: i64) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "DELETE FROM serving_history WHERE at < $1 \
           OR id <= (SELECT id FROM serving_history ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(before)
    .bind(keep)
    .execute(db.pool())
    .await
    .map_err(|e| failed("applying the serving history's retention", e))?
    .rows_affected())
}
