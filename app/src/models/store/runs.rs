//! The runs table with its params, tags, inputs and outputs, and the Job a run tracks.

use std::collections::HashMap;

use super::*;

const RUN: &str = "SELECT r.id, r.experiment_id, r.name, r.user_id, r.status, r.start_ms, \
     r.end_ms, r.lifecycle_stage, e.namespace, r.job_name, r.job_uid FROM mlflow_runs r \
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

/// What a run search reads by key for a whole experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyed {
    Params,
    Tags,
}

/// Run → value of the param or tag `key`, for the active runs of `experiment` that have it.
pub async fn experiment_values(
    db: &Db,
    keyed: Keyed,
    experiment: i64,
    key: &str,
) -> Result<HashMap<String, String>, AppError> {
    let sql = match keyed {
        Keyed::Params => {
            "SELECT v.run_id, v.value FROM mlflow_run_params v JOIN mlflow_runs r \
             ON r.id = v.run_id WHERE r.experiment_id = $1 AND r.lifecycle_stage = 'active' \
             AND v.key = $2"
        }
        Keyed::Tags => {
            "SELECT v.run_id, v.value FROM mlflow_run_tags v JOIN mlflow_runs r \
             ON r.id = v.run_id WHERE r.experiment_id = $1 AND r.lifecycle_stage = 'active' \
             AND v.key = $2"
        }
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(experiment)
        .bind(key)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("searching runs", e))?;
    Ok(rows.into_iter().collect())
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
        super::upsert_tag(conn, super::RUN_TAGS, run.id.as_str(), &tag.key, &tag.value).await?;
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

/// Ends the run Gantry created for the Job `uid` with `status` at `end_ms`, if its code did
/// not: what a job that crashed, was evicted or was deleted leaves `SCHEDULED` or `RUNNING`.
/// A run its client ended keeps the status the client gave it.
pub async fn end_job_run(db: &Db, uid: &str, status: &str, end_ms: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_runs SET status = $1, end_ms = $2 \
         WHERE job_uid = $3 AND status IN ('SCHEDULED', 'RUNNING')",
    )
    .bind(status)
    .bind(end_ms)
    .bind(uid)
    .execute(db.pool())
    .await
    .map_err(|e| failed("ending a job's run", e))?;
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

pub async fn delete_run_tag(db: &Db, run: &str, key: &str) -> Result<bool, AppError> {
    sqlx::query("DELETE FROM mlflow_run_tags WHERE run_id = $1 AND key = $2")
        .bind(run)
        .bind(key)
        .execute(db.pool())
        .await
        .map(|done| done.rows_affected() > 0)
        .map_err(|e| failed("untagging a run", e))
}

/// The params of each of `runs`, by key.
pub async fn run_params_of(
    db: &Db,
    runs: &[&str],
) -> Result<HashMap<String, Vec<KeyValue>>, AppError> {
    let sql = "SELECT run_id, key, value FROM mlflow_run_params WHERE run_id IN ({runs}) \
               ORDER BY run_id, key";
    of_runs(db, (sql, "reading params"), runs, pair).await
}

/// The tags of each of `runs`, by key.
pub async fn run_tags_of(
    db: &Db,
    runs: &[&str],
) -> Result<HashMap<String, Vec<KeyValue>>, AppError> {
    let sql = "SELECT run_id, key, value FROM mlflow_run_tags WHERE run_id IN ({runs}) \
               ORDER BY run_id, key";
    of_runs(db, (sql, "reading tags"), runs, pair).await
}

fn pair((run, key, value): (String, String, String)) -> (String, KeyValue) {
    (run, KeyValue { key, value })
}

/// What `of` read for the run `run` (nothing when it read no row).
pub fn of_run<T>(mut of: HashMap<String, Vec<T>>, run: &str) -> Vec<T> {
    of.remove(run).unwrap_or_default()
}

pub async fn run_params(db: &Db, run: &str) -> Result<Vec<KeyValue>, AppError> {
    Ok(of_run(run_params_of(db, &[run]).await?, run))
}

pub async fn run_tags(db: &Db, run: &str) -> Result<Vec<KeyValue>, AppError> {
    Ok(of_run(run_tags_of(db, &[run]).await?, run))
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

/// The logged models each of `runs` output.
pub async fn outputs_of(
    db: &Db,
    runs: &[&str],
) -> Result<HashMap<String, Vec<ModelOutput>>, AppError> {
    let sql = "SELECT run_id, model_id, step FROM mlflow_run_outputs WHERE run_id IN ({runs}) \
               ORDER BY run_id, model_id";
    of_runs(
        db,
        (sql, "reading a run's outputs"),
        runs,
        |(run, model_id, step): (String, String, i64)| (run, ModelOutput { model_id, step }),
    )
    .await
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

/// The datasets each of `runs` took as inputs, as their JSON.
pub async fn inputs_of(db: &Db, runs: &[&str]) -> Result<HashMap<String, Vec<String>>, AppError> {
    let sql = "SELECT run_id, dataset FROM mlflow_run_inputs WHERE run_id IN ({runs}) \
               ORDER BY run_id, name";
    of_runs(
        db,
        (sql, "reading a run's inputs"),
        runs,
        |row: (String, String)| row,
    )
    .await
}
