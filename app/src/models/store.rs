//! The registry's and the tracking server's tables (`migrations/*/20261204170000_models.sql`):
//! experiments, runs with their params, tags, metrics, inputs and outputs, logged models,
//! registered models with their versions, tags and aliases.
//!
//! Writes the client repeats (it retries them) are idempotent here: a repeated metric point
//! or tag is the same row. Names are unique across namespaces, as MLflow's API looks them up
//! by name alone.

use super::filter::Narrowing;
use super::wire::{KeyValue, Metric, ModelOutput};
use crate::auth::rules::Namespaces;
use crate::db::{failed, Conn, Db};
use crate::error::AppError;

/// The most rows one listing reads: the client pages past it with `page_token`.
pub const MAX_PAGE: i64 = 1000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExperimentRow {
    pub id: i64,
    pub name: String,
    pub namespace: String,
    pub lifecycle_stage: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: String,
    pub experiment_id: i64,
    pub name: String,
    pub user_id: String,
    pub status: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub lifecycle_stage: String,
    pub namespace: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoggedModelRow {
    pub id: String,
    pub experiment_id: i64,
    pub name: String,
    pub source_run_id: Option<String>,
    pub status: String,
    pub model_type: String,
    pub params: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub namespace: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegisteredRow {
    pub id: i64,
    pub name: String,
    pub namespace: String,
    pub description: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub model: i64,
    pub name: String,
    pub namespace: String,
    pub version: i64,
    pub source: String,
    pub run_id: String,
    pub run_link: String,
    pub logged_model_id: String,
    pub description: String,
    pub stage: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub created_by: String,
}

fn taken(what: String) -> impl FnOnce(sqlx::Error) -> AppError {
    move |e| match e {
        sqlx::Error::Database(ref d) if d.is_unique_violation() => AppError::Conflict {
            reason: format!("{what} already exists"),
        },
        e => failed("saving to the registry", e),
    }
}

// ---- experiments

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
        set_experiment_tag(conn, id, &tag.key, &tag.value).await?;
    }
    Ok(id)
}

async fn set_experiment_tag(
    conn: &mut Conn,
    id: i64,
    key: &str,
    value: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(id)
    .bind(key)
    .bind(value)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("tagging an experiment", e))
}

pub async fn experiment_tags(db: &Db, id: i64) -> Result<Vec<KeyValue>, AppError> {
    pairs(
        db,
        "SELECT key, value FROM mlflow_experiment_tags WHERE experiment_id = $1 ORDER BY key",
        id,
    )
    .await
}

async fn pairs<'a, T>(db: &Db, sql: &'a str, id: T) -> Result<Vec<KeyValue>, AppError>
where
    T: 'a + Send + sqlx::Encode<'a, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(id)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading tags", e))?;
    Ok(rows
        .into_iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect())
}

// ---- runs

const RUN: &str = "SELECT r.id, r.experiment_id, r.name, r.user_id, r.status, r.start_ms, \
     r.end_ms, r.lifecycle_stage, e.namespace FROM mlflow_runs r \
     JOIN mlflow_experiments e ON e.id = r.experiment_id";

pub async fn run(db: &Db, id: &str) -> Result<Option<RunRow>, AppError> {
    sqlx::query_as(&format!("{RUN} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading a run", e))
}

/// The runs of `experiment`, newest first, from `offset`.
pub async fn runs(
    db: &Db,
    experiment: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<RunRow>, AppError> {
    sqlx::query_as(&format!(
        "{RUN} WHERE r.experiment_id = $1 AND r.lifecycle_stage = 'active' \
         ORDER BY r.start_ms DESC, r.id LIMIT $2 OFFSET $3"
    ))
    .bind(experiment)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("listing runs", e))
}

pub async fn create_run(
    conn: &mut Conn,
    run: &RunRow,
    tags: &[KeyValue],
    created_by: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_runs (id, experiment_id, name, user_id, status, start_ms, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&run.id)
    .bind(run.experiment_id)
    .bind(&run.name)
    .bind(&run.user_id)
    .bind(&run.status)
    .bind(run.start_ms)
    .bind(created_by)
    .execute(&mut *conn)
    .await
    .map_err(taken(format!("run {}", run.id)))?;
    for tag in tags {
        set_run_tag(conn, &run.id, &tag.key, &tag.value).await?;
    }
    Ok(())
}

pub async fn update_run(
    db: &Db,
    id: &str,
    status: Option<&str>,
    end_ms: Option<i64>,
    name: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_runs SET status = COALESCE($2, status), end_ms = COALESCE($3, end_ms), \
         name = COALESCE($4, name) WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(end_ms)
    .bind(name)
    .execute(db.pool())
    .await
    .map(drop)
    .map_err(|e| failed("updating a run", e))
}

pub async fn delete_run(db: &Db, id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE mlflow_runs SET lifecycle_stage = 'deleted' WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await
        .map(drop)
        .map_err(|e| failed("deleting a run", e))
}

/// Logs a param once: the same value again is fine (a retry), a different one is refused,
/// as MLflow refuses it.
pub async fn log_param(conn: &mut Conn, run: &str, key: &str, value: &str) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_run_params (run_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (run_id, key) DO NOTHING",
    )
    .bind(run)
    .bind(key)
    .bind(value)
    .execute(&mut *conn)
    .await
    .map_err(|e| failed("logging a param", e))?;
    let stored: String =
        sqlx::query_scalar("SELECT value FROM mlflow_run_params WHERE run_id = $1 AND key = $2")
            .bind(run)
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| failed("logging a param", e))?;
    if stored != value {
        return Err(AppError::invalid(
            "value",
            format!(
                "Changing param values is not allowed. Param with key={key:?} was already logged \
                 with value={stored:?} for run ID={run:?}. Attempted logging new value {value:?}."
            ),
        ));
    }
    Ok(())
}

pub async fn set_run_tag(
    conn: &mut Conn,
    run: &str,
    key: &str,
    value: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_run_tags (run_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(run)
    .bind(key)
    .bind(value)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("tagging a run", e))
}

pub async fn delete_run_tag(db: &Db, run: &str, key: &str) -> Result<bool, AppError> {
    sqlx::query("DELETE FROM mlflow_run_tags WHERE run_id = $1 AND key = $2")
        .bind(run)
        .bind(key)
        .execute(db.pool())
        .await
        .map(|done| done.rows_affected() > 0)
        .map_err(|e| failed("untagging a run", e))
}

pub async fn run_params(db: &Db, run: &str) -> Result<Vec<KeyValue>, AppError> {
    pairs(
        db,
        "SELECT key, value FROM mlflow_run_params WHERE run_id = $1 ORDER BY key",
        run,
    )
    .await
}

pub async fn run_tags(db: &Db, run: &str) -> Result<Vec<KeyValue>, AppError> {
    pairs(
        db,
        "SELECT key, value FROM mlflow_run_tags WHERE run_id = $1 ORDER BY key",
        run,
    )
    .await
}

/// Rows per INSERT statement: a 1,000-metric batch is ten statements, not a thousand.
const METRICS_PER_STATEMENT: usize = 100;

/// `$1, $2, …` for `rows` rows of `columns` values each: `($1, $2), ($3, $4)`.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn log_metrics(conn: &mut Conn, run: &str, metrics: &[Metric]) -> Result<(), AppError> {
    for chunk in metrics.chunks(METRICS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO mlflow_metrics (run_id, key, step, timestamp_ms, value, nan, model_id) \
             VALUES {} ON CONFLICT DO NOTHING",
            placeholders(chunk.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for m in chunk {
            let nan = m.value.is_nan();
            query = query
                .bind(run)
                .bind(&m.key)
                .bind(m.step)
                .bind(m.timestamp)
                .bind(if nan { 0.0 } else { m.value })
                .bind(i64::from(nan))
                .bind(m.model_id.as_deref().unwrap_or(""));
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| failed("logging metrics", e))?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PointRow {
    key: String,
    step: i64,
    timestamp_ms: i64,
    value: f64,
    nan: i64,
    model_id: String,
}

impl PointRow {
    fn metric(self, run: &str) -> Metric {
        Metric {
            key: self.key,
            value: if self.nan == 1 { f64::NAN } else { self.value },
            timestamp: self.timestamp_ms,
            step: self.step,
            model_id: (!self.model_id.is_empty()).then_some(self.model_id),
            run_id: Some(run.to_string()),
        }
    }
}

/// Each key's latest point (highest step, then newest), as `runs/get` shows them.
pub async fn latest_metrics(db: &Db, run: &str) -> Result<Vec<Metric>, AppError> {
    let rows: Vec<PointRow> = sqlx::query_as(
        "SELECT key, step, timestamp_ms, value, nan, model_id FROM mlflow_metrics \
         WHERE run_id = $1 ORDER BY key, step DESC, timestamp_ms DESC",
    )
    .bind(run)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("reading metrics", e))?;
    let mut latest: Vec<Metric> = Vec::new();
    for row in rows {
        if latest.last().map(|m| &m.key) != Some(&row.key) {
            latest.push(row.metric(run));
        }
    }
    for m in &mut latest {
        m.model_id = None;
    }
    Ok(latest)
}

/// One metric's points in step order, from `offset`.
pub async fn metric_history(
    db: &Db,
    run: &str,
    key: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Metric>, AppError> {
    let rows: Vec<PointRow> = sqlx::query_as(
        "SELECT key, step, timestamp_ms, value, nan, model_id FROM mlflow_metrics \
         WHERE run_id = $1 AND key = $2 AND model_id = '' \
         ORDER BY step, timestamp_ms LIMIT $3 OFFSET $4",
    )
    .bind(run)
    .bind(key)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("reading a metric's history", e))?;
    Ok(rows.into_iter().map(|r| r.metric(run)).collect())
}

pub async fn add_outputs(
    conn: &mut Conn,
    run: &str,
    models: &[ModelOutput],
) -> Result<(), AppError> {
    for m in models {
        sqlx::query(
            "INSERT INTO mlflow_run_outputs (run_id, model_id, step) VALUES ($1, $2, $3) \
             ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step",
        )
        .bind(run)
        .bind(&m.model_id)
        .bind(m.step)
        .execute(&mut *conn)
        .await
        .map_err(|e| failed("recording a run's output", e))?;
    }
    Ok(())
}

pub async fn outputs(db: &Db, run: &str) -> Result<Vec<ModelOutput>, AppError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT model_id, step FROM mlflow_run_outputs WHERE run_id = $1 ORDER BY model_id",
    )
    .bind(run)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("reading a run's outputs", e))?;
    Ok(rows
        .into_iter()
        .map(|(model_id, step)| ModelOutput { model_id, step })
        .collect())
}

pub async fn add_input(
    conn: &mut Conn,
    run: &str,
    name: &str,
    digest: &str,
    dataset: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_run_inputs (run_id, name, digest, dataset) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (run_id, name, digest) DO UPDATE SET dataset = excluded.dataset",
    )
    .bind(run)
    .bind(name)
    .bind(digest)
    .bind(dataset)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("recording a run's input", e))
}

pub async fn inputs(db: &Db, run: &str) -> Result<Vec<String>, AppError> {
    sqlx::query_scalar("SELECT dataset FROM mlflow_run_inputs WHERE run_id = $1 ORDER BY name")
        .bind(run)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading a run's inputs", e))
}

// ---- logged models

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

pub async fn set_logged_model_tag(
    conn: &mut Conn,
    id: &str,
    key: &str,
    value: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(id)
    .bind(key)
    .bind(value)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("tagging a logged model", e))
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

// ---- registered models

const REGISTERED: &str = "SELECT id, name, namespace, description, created_ms, updated_ms, \
     created_by FROM mlflow_registered_models";

pub async fn registered(db: &Db, name: &str) -> Result<Option<RegisteredRow>, AppError> {
    sqlx::query_as(&format!("{REGISTERED} WHERE name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading a registered model", e))
}

/// The registered models in `namespaces` that may match `narrowing` (a superset: the caller
/// applies the filter exactly), by name.
pub async fn registered_matching(
    db: &Db,
    namespaces: &Namespaces,
    narrowing: &[Narrowing<'_>],
) -> Result<Vec<RegisteredRow>, AppError> {
    let columns = [("name", "name")];
    let Some((clause, binds)) = narrowed("namespace", namespaces, narrowing, &columns) else {
        return Ok(Vec::new());
    };
    let sql = format!("{REGISTERED} WHERE {clause} ORDER BY name");
    let mut query = sqlx::query_as(&sql);
    for value in binds {
        query = query.bind(value);
    }
    query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("searching registered models", e))
}

/// A WHERE clause for `narrowing` on the `columns` it names (field → column) within
/// `namespaces`, and its values; `None` when no namespace is allowed.
fn narrowed(
    namespace_column: &str,
    namespaces: &Namespaces,
    narrowing: &[Narrowing<'_>],
    columns: &[(&str, &str)],
) -> Option<(String, Vec<String>)> {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut binds: Vec<String> = Vec::new();
    if let Namespaces::Only(names) = namespaces {
        if names.is_empty() {
            return None;
        }
        let first = binds.len() + 1;
        let list: Vec<String> = (first..first + names.len())
            .map(|i| format!("${i}"))
            .collect();
        clauses.push(format!("{namespace_column} IN ({})", list.join(", ")));
        binds.extend(names.iter().cloned());
    }
    for n in narrowing {
        let Some((_, column)) = columns.iter().find(|(field, _)| *field == n.field) else {
            continue;
        };
        binds.push(n.value.to_string());
        let at = binds.len();
        clauses.push(if n.exact {
            format!("{column} = ${at}")
        } else {
            format!("LOWER({column}) LIKE LOWER(${at})")
        });
    }
    Some((clauses.join(" AND "), binds))
}

pub async fn create_registered(
    conn: &mut Conn,
    name: &str,
    namespace: &str,
    description: &str,
    tags: &[KeyValue],
    by: &str,
    now: i64,
) -> Result<i64, AppError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mlflow_registered_models \
         (name, namespace, description, created_ms, updated_ms, created_by) \
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(namespace)
    .bind(description)
    .bind(now)
    .bind(by)
    .fetch_one(&mut *conn)
    .await
    .map_err(taken(format!("Registered Model (name={name})")))?;
    for tag in tags {
        set_registered_tag(conn, id, &tag.key, &tag.value).await?;
    }
    Ok(id)
}

pub async fn update_registered(
    conn: &mut Conn,
    id: i64,
    description: Option<&str>,
    new_name: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_registered_models SET description = COALESCE($2, description), \
         name = COALESCE($3, name), updated_ms = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(description)
    .bind(new_name)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
    .map_err(taken(format!(
        "Registered Model (name={})",
        new_name.unwrap_or_default()
    )))
}

/// Deletes the model with its versions, tags and aliases.
pub async fn delete_registered(conn: &mut Conn, id: i64) -> Result<(), AppError> {
    for sql in [
        "DELETE FROM mlflow_aliases WHERE model = $1",
        "DELETE FROM mlflow_model_version_tags WHERE model = $1",
        "DELETE FROM mlflow_model_versions WHERE model = $1",
        "DELETE FROM mlflow_registered_model_tags WHERE model = $1",
        "DELETE FROM mlflow_registered_models WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(|e| failed("deleting a registered model", e))?;
    }
    Ok(())
}

pub async fn set_registered_tag(
    conn: &mut Conn,
    id: i64,
    key: &str,
    value: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_registered_model_tags (model, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (model, key) DO UPDATE SET value = excluded.value",
    )
    .bind(id)
    .bind(key)
    .bind(value)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("tagging a registered model", e))
}

pub async fn delete_registered_tag(conn: &mut Conn, id: i64, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM mlflow_registered_model_tags WHERE model = $1 AND key = $2")
        .bind(id)
        .bind(key)
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| failed("untagging a registered model", e))
}

pub async fn registered_tags(db: &Db, id: i64) -> Result<Vec<KeyValue>, AppError> {
    pairs(
        db,
        "SELECT key, value FROM mlflow_registered_model_tags WHERE model = $1 ORDER BY key",
        id,
    )
    .await
}

// ---- versions

const VERSION: &str = "SELECT v.model, m.name, m.namespace, v.version, v.source, v.run_id, \
     v.run_link, v.logged_model_id, v.description, v.stage, v.created_ms, v.updated_ms, \
     v.created_by FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model";

/// Adds version `highest stored + 1` of `model`, and answers its number.
pub async fn create_version(conn: &mut Conn, v: &VersionRow) -> Result<i64, AppError> {
    // One statement that numbers and inserts: on SQLite it takes the write lock before it
    // reads the highest number, so concurrent registrations queue (a read first, then a
    // write, fails as "busy" instead); on PostgreSQL two may pick the same number, and the
    // loser's unique violation is a Conflict that the caller retries.
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO mlflow_model_versions (model, version, source, run_id, run_link, \
         logged_model_id, description, created_ms, updated_ms, created_by) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $7, $8 \
         FROM mlflow_model_versions WHERE model = $1 RETURNING version",
    )
    .bind(v.model)
    .bind(&v.source)
    .bind(&v.run_id)
    .bind(&v.run_link)
    .bind(&v.logged_model_id)
    .bind(&v.description)
    .bind(v.created_ms)
    .bind(&v.created_by)
    .fetch_one(&mut *conn)
    .await
    .map_err(taken(format!("the next version of {}", v.name)))?;
    sqlx::query("UPDATE mlflow_registered_models SET updated_ms = $2 WHERE id = $1")
        .bind(v.model)
        .bind(v.created_ms)
        .execute(conn)
        .await
        .map_err(|e| failed("registering a version", e))?;
    Ok(next)
}

pub async fn version(db: &Db, model: i64, version: i64) -> Result<Option<VersionRow>, AppError> {
    sqlx::query_as(&format!("{VERSION} WHERE v.model = $1 AND v.version = $2"))
        .bind(model)
        .bind(version)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading a model version", e))
}

/// The versions of `model`, newest first.
pub async fn versions(db: &Db, model: i64) -> Result<Vec<VersionRow>, AppError> {
    sqlx::query_as(&format!(
        "{VERSION} WHERE v.model = $1 ORDER BY v.version DESC"
    ))
    .bind(model)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("listing model versions", e))
}

/// The versions in `namespaces` that may match `narrowing` (a superset: the caller applies
/// the filter exactly), by model name and newest first.
pub async fn versions_matching(
    db: &Db,
    namespaces: &Namespaces,
    narrowing: &[Narrowing<'_>],
) -> Result<Vec<VersionRow>, AppError> {
    let columns = [
        ("name", "m.name"),
        ("run_id", "v.run_id"),
        ("source", "v.source"),
        ("source_path", "v.source"),
    ];
    let Some((clause, binds)) = narrowed("m.namespace", namespaces, narrowing, &columns) else {
        return Ok(Vec::new());
    };
    let sql = format!("{VERSION} WHERE {clause} ORDER BY m.name, v.version DESC");
    let mut query = sqlx::query_as(&sql);
    for value in binds {
        query = query.bind(value);
    }
    query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("searching model versions", e))
}

pub async fn update_version(
    conn: &mut Conn,
    model: i64,
    version: i64,
    description: Option<&str>,
    stage: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_model_versions SET description = COALESCE($3, description), \
         stage = COALESCE($4, stage), updated_ms = $5 WHERE model = $1 AND version = $2",
    )
    .bind(model)
    .bind(version)
    .bind(description)
    .bind(stage)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("updating a model version", e))
}

/// Moves every other version of `model` in `stage` to Archived.
pub async fn archive_others(
    conn: &mut Conn,
    model: i64,
    version: i64,
    stage: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_model_versions SET stage = 'Archived', updated_ms = $4 \
         WHERE model = $1 AND version <> $2 AND stage = $3",
    )
    .bind(model)
    .bind(version)
    .bind(stage)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("archiving model versions", e))
}

/// Deletes a version with its tags and the aliases that point at it.
pub async fn delete_version(conn: &mut Conn, model: i64, version: i64) -> Result<(), AppError> {
    for sql in [
        "DELETE FROM mlflow_aliases WHERE model = $1 AND version = $2",
        "DELETE FROM mlflow_model_version_tags WHERE model = $1 AND version = $2",
        "DELETE FROM mlflow_model_versions WHERE model = $1 AND version = $2",
    ] {
        sqlx::query(sql)
            .bind(model)
            .bind(version)
            .execute(&mut *conn)
            .await
            .map_err(|e| failed("deleting a model version", e))?;
    }
    Ok(())
}

pub async fn set_version_tag(
    conn: &mut Conn,
    model: i64,
    version: i64,
    key: &str,
    value: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_model_version_tags (model, version, key, value) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (model, version, key) DO UPDATE SET value = excluded.value",
    )
    .bind(model)
    .bind(version)
    .bind(key)
    .bind(value)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("tagging a model version", e))
}

pub async fn delete_version_tag(
    conn: &mut Conn,
    model: i64,
    version: i64,
    key: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "DELETE FROM mlflow_model_version_tags WHERE model = $1 AND version = $2 AND key = $3",
    )
    .bind(model)
    .bind(version)
    .bind(key)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("untagging a model version", e))
}

// ---- aliases

pub async fn set_alias(
    conn: &mut Conn,
    model: i64,
    alias: &str,
    version: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_aliases (model, alias, version) VALUES ($1, $2, $3) \
         ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version",
    )
    .bind(model)
    .bind(alias)
    .bind(version)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("setting an alias", e))
}

pub async fn delete_alias(conn: &mut Conn, model: i64, alias: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM mlflow_aliases WHERE model = $1 AND alias = $2")
        .bind(model)
        .bind(alias)
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| failed("deleting an alias", e))
}

/// `model`'s aliases: (alias, version), by alias.
pub async fn aliases(db: &Db, model: i64) -> Result<Vec<(String, i64)>, AppError> {
    sqlx::query_as("SELECT alias, version FROM mlflow_aliases WHERE model = $1 ORDER BY alias")
        .bind(model)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading aliases", e))
}

// ---- what a page of models or versions shows, read for all of them at once

/// `$1, $2, …, $n`, for an `IN (…)` list.
fn list(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Models per `IN (…)` list: far under both backends' limits on parameters.
const MODELS_PER_STATEMENT: usize = 500;

/// Runs `sql` (whose `{}` is an `IN (…)` list) for `models`, a chunk at a time.
async fn of_models<T>(
    db: &Db,
    models: &[i64],
    sql: impl Fn(&str) -> String,
    context: &str,
) -> Result<Vec<T>, AppError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut rows = Vec::new();
    for chunk in models.chunks(MODELS_PER_STATEMENT) {
        let sql = sql(&list(chunk.len()));
        let mut query = sqlx::query_as::<_, T>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(
            query
                .fetch_all(db.pool())
                .await
                .map_err(|e| failed(context, e))?,
        );
    }
    Ok(rows)
}

/// The versions of `models`, newest first within each.
pub async fn versions_of(db: &Db, models: &[i64]) -> Result<Vec<VersionRow>, AppError> {
    let sql =
        |ids: &str| format!("{VERSION} WHERE v.model IN ({ids}) ORDER BY v.model, v.version DESC");
    of_models(db, models, sql, "listing model versions").await
}

/// The tags of `models`' versions: (model, version, key, value).
pub async fn version_tags_of(
    db: &Db,
    models: &[i64],
) -> Result<Vec<(i64, i64, String, String)>, AppError> {
    let sql = |ids: &str| {
        format!(
            "SELECT model, version, key, value FROM mlflow_model_version_tags \
             WHERE model IN ({ids}) ORDER BY model, version, key"
        )
    };
    of_models(db, models, sql, "reading version tags").await
}

/// The aliases of `models`: (model, alias, version).
pub async fn aliases_of(db: &Db, models: &[i64]) -> Result<Vec<(i64, String, i64)>, AppError> {
    let sql = |ids: &str| {
        format!(
            "SELECT model, alias, version FROM mlflow_aliases WHERE model IN ({ids}) \
             ORDER BY model, alias"
        )
    };
    of_models(db, models, sql, "reading aliases").await
}

/// The tags of `models`: (model, key, value).
pub async fn registered_tags_of(
    db: &Db,
    models: &[i64],
) -> Result<Vec<(i64, String, String)>, AppError> {
    let sql = |ids: &str| {
        format!(
            "SELECT model, key, value FROM mlflow_registered_model_tags WHERE model IN ({ids}) \
             ORDER BY model, key"
        )
    };
    of_models(db, models, sql, "reading tags").await
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_value_once() {
        assert_eq!(super::placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::list(3), "$1, $2, $3");
    }
}
