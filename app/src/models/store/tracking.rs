//! The tracking tables: experiments, runs with their params, tags, metrics, inputs and
//! outputs, logged models.

use super::*;

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

// ---- runs

const RUN: &str = "SELECT r.id, r.experiment_id, r.name, r.user_id, r.status, r.start_ms, \
     r.end_ms, r.lifecycle_stage, e.namespace, r.job_name FROM mlflow_runs r \
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

/// Records on run `run` the Job it tracks.
pub async fn link_run_to_job(
    conn: &mut Conn,
    run: &str,
    namespace: &str,
    name: &str,
    uid: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_runs SET job_namespace = $2, job_name = $3, job_uid = $4 WHERE id = $1",
    )
    .bind(run)
    .bind(namespace)
    .bind(name)
    .bind(uid)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("linking a run to its job", e))
}

/// The run Gantry created for the Job `uid`, if it was launched with tracking on.
pub async fn run_of_job(db: &Db, uid: &str) -> Result<Option<String>, AppError> {
    sqlx::query_scalar(
        "SELECT id FROM mlflow_runs WHERE job_uid = $1 AND lifecycle_stage = 'active' \
         ORDER BY start_ms DESC LIMIT 1",
    )
    .bind(uid)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| failed("reading a job's run", e))
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

/// Each key's latest point (highest step, then newest), as `runs/get` shows them. Only the
/// points at each key's highest step are read: a run of 100,000 points is not.
pub async fn latest_metrics(db: &Db, run: &str) -> Result<Vec<Metric>, AppError> {
    let rows: Vec<PointRow> = sqlx::query_as(
        "SELECT m.key, m.step, m.timestamp_ms, m.value, m.nan, m.model_id \
         FROM mlflow_metrics m JOIN (SELECT key, MAX(step) AS step FROM mlflow_metrics \
         WHERE run_id = $1 GROUP BY key) newest ON m.key = newest.key AND m.step = newest.step \
         WHERE m.run_id = $1 ORDER BY m.key, m.timestamp_ms DESC",
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

/// One metric of a run by step, as a chart draws it: every point when there are at most
/// `buckets`, else the steps cut into `buckets` equal spans, each drawn at its first step as
/// the mean of its values. NaN and infinities are left out (a line cannot be drawn through
/// them). Two statements, both on the table's key: a run of 100,000 points is not read
/// whole.
pub async fn metric_by_step(
    db: &Db,
    run: &str,
    key: &str,
    buckets: i64,
) -> Result<Vec<(i64, f64)>, AppError> {
    const FINITE: &str = "run_id = $1 AND key = $2 AND model_id = '' AND nan = 0 \
         AND value < 1e308 AND value > -1e308";
    let (first, last, count): (Option<i64>, Option<i64>, i64) = sqlx::query_as(&format!(
        "SELECT MIN(step), MAX(step), COUNT(*) FROM mlflow_metrics WHERE {FINITE}"
    ))
    .bind(run)
    .bind(key)
    .fetch_one(db.pool())
    .await
    .map_err(|e| failed("reading a metric's extent", e))?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Vec::new());
    };
    let sql = if count <= buckets {
        format!("SELECT step, value FROM mlflow_metrics WHERE {FINITE} ORDER BY step, timestamp_ms")
    } else {
        format!(
            "SELECT MIN(step), AVG(value) FROM mlflow_metrics WHERE {FINITE} \
             GROUP BY (step - $3) / $4 ORDER BY 1"
        )
    };
    let mut query = sqlx::query_as(&sql).bind(run).bind(key);
    if count > buckets {
        query = query.bind(first).bind((last - first) / buckets + 1);
    }
    query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading a metric by step", e))
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
