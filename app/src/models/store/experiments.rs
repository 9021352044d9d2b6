//! The experiments table and its tags, and experiments as the Experiments list shows them.

use super::*;

const EXPERIMENT: &str =
    "SELECT id, name, namespace, lifecycle_stage, created_ms, updated_ms FROM mlflow_experiments";

pub async fn experiment(db: &Db, id: i64) -> Result<Option<ExperimentRow>, AppError> {
    sqlx::query_as(&format!("{EXPERIMENT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading an experiment", e))
}

pub async fn experiment_by_name(db: &Db, name: &str) -> Result<Option<ExperimentRow>, AppError> {
    sqlx::query_as(&format!("{EXPERIMENT} WHERE name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading an experiment", e))
}

/// Experiments after id `after`, oldest first.
pub async fn experiments(db: &Db, after: i64, limit: i64) -> Result<Vec<ExperimentRow>, AppError> {
    sqlx::query_as(&format!("{EXPERIMENT} WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(after)
        .bind(limit)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("listing experiments", e))
}

/// The active experiments in `namespaces` whose name matches `pattern` (SQL `LIKE`, any
/// case), by name, at most `limit`.
pub async fn experiments_listed(
    db: &Db,
    namespaces: &Namespaces,
    pattern: &str,
    limit: usize,
) -> Result<Vec<ExperimentListed>, AppError> {
    let narrowing = [Narrowing {
        field: "name",
        exact: false,
        value: pattern,
    }];
    let columns = [("name", "e.name")];
    let Some((clause, binds)) = narrowed("e.namespace", namespaces, &narrowing, &columns) else {
        return Ok(Vec::new());
    };
    listed(db, &clause, binds, limit).await
}

/// Experiment `id` as the Experiments list shows it, if active.
pub async fn experiment_listed(db: &Db, id: i64) -> Result<Option<ExperimentListed>, AppError> {
    // An integer, written into the statement: binding it as text would not compare with
    // PostgreSQL's BIGINT.
    let found = listed(db, &format!("e.id = {id}"), Vec::new(), 1).await?;
    Ok(found.into_iter().next())
}

async fn listed(
    db: &Db,
    clause: &str,
    binds: Vec<String>,
    limit: usize,
) -> Result<Vec<ExperimentListed>, AppError> {
    let sql = format!(
        "SELECT e.id, e.name, e.namespace, \
         (SELECT COUNT(*) FROM mlflow_runs r \
          WHERE r.experiment_id = e.id AND r.lifecycle_stage = 'active') AS runs, \
         (SELECT MAX(r.start_ms) FROM mlflow_runs r \
          WHERE r.experiment_id = e.id AND r.lifecycle_stage = 'active') AS last_run_ms \
         FROM mlflow_experiments e WHERE {clause} AND e.lifecycle_stage = 'active' \
         ORDER BY e.name LIMIT {limit}"
    );
    let mut query = sqlx::query_as(&sql);
    for value in binds {
        query = query.bind(value);
    }
    query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("listing experiments", e))
}

pub async fn create_experiment(
    conn: &mut Conn,
    name: &str,
    namespace: &str,
    tags: &[KeyValue],
    now: i64,
) -> Result<i64, AppError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mlflow_experiments (name, namespace, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $3) RETURNING id",
    )
    .bind(name)
    .bind(namespace)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(taken(format!("experiment {name:?}")))?;
    for tag in tags {
        super::upsert_tag(conn, super::EXPERIMENT_TAGS, id, &tag.key, &tag.value).await?;
    }
    Ok(id)
}

pub async fn experiment_tags(db: &Db, id: i64) -> Result<Vec<KeyValue>, AppError> {
    pairs(
        db,
        "SELECT key, value FROM mlflow_experiment_tags WHERE experiment_id = $1 ORDER BY key",
        id,
    )
    .await
}
