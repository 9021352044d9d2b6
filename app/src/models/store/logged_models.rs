//! MLflow 3's logged models and their tags and metrics.

use super::*;

const LOGGED: &str = "SELECT m.id, m.experiment_id, m.name, m.source_run_id, m.status, \
     m.model_type, m.params, m.created_ms, m.updated_ms, e.namespace FROM mlflow_logged_models m \
     JOIN mlflow_experiments e ON e.id = m.experiment_id";

pub async fn create_logged_model(conn: &mut Conn, m: &LoggedModelRow) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_logged_models \
         (id, experiment_id, name, source_run_id, status, model_type, params, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&m.id)
    .bind(m.experiment_id)
    .bind(&m.name)
    .bind(&m.source_run_id)
    .bind(&m.status)
    .bind(&m.model_type)
    .bind(&m.params)
    .bind(m.created_ms)
    .execute(conn)
    .await
    .map(drop)
    .map_err(taken(format!("logged model {}", m.id)))
}

pub async fn logged_model(db: &Db, id: &str) -> Result<Option<LoggedModelRow>, AppError> {
    sqlx::query_as(&format!("{LOGGED} WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading a logged model", e))
}

/// The logged models of `experiment` (named `name`, when given), newest first.
pub async fn logged_models(
    db: &Db,
    experiment: i64,
    name: Option<&str>,
    limit: i64,
) -> Result<Vec<LoggedModelRow>, AppError> {
    // NB: two statements, not `$2 IS NULL OR …`: PostgreSQL cannot type a NULL parameter.
    let by_name = if name.is_some() {
        "AND m.name = $3"
    } else {
        ""
    };
    let sql = format!(
        "{LOGGED} WHERE m.experiment_id = $1 {by_name} ORDER BY m.created_ms DESC, m.id LIMIT $2"
    );
    let query = sqlx::query_as(&sql).bind(experiment).bind(limit);
    let query = match name {
        Some(name) => query.bind(name),
        None => query,
    };
    query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("searching logged models", e))
}

pub async fn set_logged_model_status(
    db: &Db,
    id: &str,
    status: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE mlflow_logged_models SET status = $2, updated_ms = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(now)
        .execute(db.pool())
        .await
        .map(drop)
        .map_err(|e| failed("updating a logged model", e))
}

pub async fn logged_model_tags(db: &Db, id: &str) -> Result<Vec<KeyValue>, AppError> {
    pairs(
        db,
        "SELECT key, value FROM mlflow_logged_model_tags WHERE model_id = $1 ORDER BY key",
        id,
    )
    .await
}

/// The metrics logged against a logged model (log_model re-logs the run's with its id).
pub async fn logged_model_metrics(db: &Db, id: &str) -> Result<Vec<Metric>, AppError> {
    let rows: Vec<(String, PointRow)> =
        sqlx::query_as::<_, (String, String, i64, i64, f64, i64, String)>(
            "SELECT run_id, key, step, timestamp_ms, value, nan, model_id FROM mlflow_metrics \
         WHERE model_id = $1 ORDER BY key, step",
        )
        .bind(id)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading a logged model's metrics", e))?
        .into_iter()
        .map(|(run, key, step, timestamp_ms, value, nan, model_id)| {
            (
                run,
                PointRow {
                    key,
                    step,
                    timestamp_ms,
                    value,
                    nan,
                    model_id,
                },
            )
        })
        .collect();
    Ok(rows.into_iter().map(|(run, p)| p.metric(&run)).collect())
}
