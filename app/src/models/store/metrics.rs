//! Metric points: logged in batches, read as each key's latest, as one key's history, and
//! by step for a chart.

use std::collections::HashMap;

use super::*;

/// Rows per INSERT statement: a 1,000-metric batch is ten statements, not a thousand.
const METRICS_PER_STATEMENT: usize = 100;

/// Inserts the points of `metrics` that are not already there (a retried batch changes
/// nothing). They go in the primary key's order: a batch's keys land on as many places in the
/// table, and visiting them in order keeps the pages just written at hand.
pub async fn log_metrics(conn: &mut Conn, run: &str, metrics: &[Metric]) -> Result<(), AppError> {
    let mut ordered: Vec<&Metric> = metrics.iter().collect();
    ordered.sort_unstable_by(|a, b| (&a.key, a.step).cmp(&(&b.key, b.step)));
    for chunk in ordered.chunks(METRICS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO mlflow_metrics (run_id, key, step, timestamp_ms, value, nan, model_id) \
             VALUES {} ON CONFLICT DO NOTHING",
            placeholders(conn, chunk.len(), 7)
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
pub(super) struct PointRow {
    pub(super) key: String,
    pub(super) step: i64,
    pub(super) timestamp_ms: i64,
    pub(super) value: f64,
    pub(super) nan: i64,
    pub(super) model_id: String,
}

impl PointRow {
    pub(super) fn metric(self, run: &str) -> Metric {
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

/// Each key's latest point (highest step, then newest) of each of `runs`, as `runs/get` and
/// `runs/search` show them. Neither SQLite nor PostgreSQL skips through an index for a
/// `GROUP BY … MAX(step)`: they would read every point. So the keys are walked one index
/// seek at a time (each run's next key after the last), and each key's highest step is one
/// seek more: a run's cost is its number of keys, not of points. `CROSS JOIN` keeps that
/// order in SQLite, whose planner (3.46) would otherwise scan every point and look the keys
/// up (1 ms → 350 ms for two runs of 10,000 points); PostgreSQL plans it as a plain join.
pub async fn latest_metrics_of(
    db: &Db,
    runs: &[&str],
) -> Result<HashMap<String, Vec<Metric>>, AppError> {
    let sql = "WITH RECURSIVE keys (run_id, key) AS ( \
                   SELECT r.id, (SELECT MIN(x.key) FROM mlflow_metrics x WHERE x.run_id = r.id) \
                   FROM mlflow_runs r WHERE r.id IN ({runs}) \
                   UNION ALL \
                   SELECT k.run_id, (SELECT MIN(x.key) FROM mlflow_metrics x \
                                     WHERE x.run_id = k.run_id AND x.key > k.key) \
                   FROM keys k WHERE k.key IS NOT NULL) \
               SELECT m.run_id, m.key, m.step, m.timestamp_ms, m.value, m.nan \
               FROM keys k CROSS JOIN mlflow_metrics m WHERE m.run_id = k.run_id \
               AND m.key = k.key AND m.step = (SELECT MAX(x.step) FROM mlflow_metrics x \
                                               WHERE x.run_id = k.run_id AND x.key = k.key) \
               ORDER BY m.run_id, m.key, m.timestamp_ms DESC";
    let points = of_runs(
        db,
        (sql, "reading metrics"),
        runs,
        |(run, key, step, timestamp_ms, value, nan): (String, String, i64, i64, f64, i64)| {
            // A run's latest metrics name no logged model, as MLflow's `runs/get` shows them.
            let model_id = String::new();
            let point = PointRow {
                key,
                step,
                timestamp_ms,
                value,
                nan,
                model_id,
            };
            (run.clone(), point.metric(&run))
        },
    )
    .await?;
    // The newest of each key's points at its highest step.
    Ok(points
        .into_iter()
        .map(|(run, mut metrics)| {
            metrics.dedup_by(|later, first| later.key == first.key);
            (run, metrics)
        })
        .collect())
}

pub async fn latest_metrics(db: &Db, run: &str) -> Result<Vec<Metric>, AppError> {
    Ok(of_run(latest_metrics_of(db, &[run]).await?, run))
}

/// Run → latest value (highest step, then newest) of metric `key`, for the active runs of
/// `experiment` that logged it: what a run search filters and orders by. Each run's highest
/// step is one index seek, not a read of its points (the runs first: `CROSS JOIN`, as in
/// [`latest_metrics_of`]).
pub async fn experiment_metric(
    db: &Db,
    experiment: i64,
    key: &str,
) -> Result<HashMap<String, f64>, AppError> {
    let rows: Vec<(String, f64, i64)> = sqlx::query_as(
        "SELECT m.run_id, m.value, m.nan FROM mlflow_runs r CROSS JOIN mlflow_metrics m \
         WHERE m.run_id = r.id AND m.key = $2 AND m.step = \
           (SELECT MAX(x.step) FROM mlflow_metrics x WHERE x.run_id = r.id AND x.key = $2) \
         AND r.experiment_id = $1 AND r.lifecycle_stage = 'active' \
         ORDER BY m.run_id, m.timestamp_ms",
    )
    .bind(experiment)
    .bind(key)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("searching runs", e))?;
    // Ordered by time within a run: the newest point at the highest step is kept.
    Ok(rows
        .into_iter()
        .map(|(run, value, nan)| (run, if nan == 1 { f64::NAN } else { value }))
        .collect())
}

/// A job's key metric, as the jobs list shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct JobMetric {
    pub namespace: String,
    pub name: String,
    pub key: String,
    pub value: f64,
    pub nan: i64,
}

/// The key metric's latest point (highest step, then newest) of each of the newest `limit`
/// runs Gantry created for jobs, newest run first: the metric named by the run's tag
/// [`crate::models::KEY_METRIC_TAG`], else [`crate::models::KEY_METRIC`]. A run without
/// that metric yet has no row.
pub async fn jobs_key_metrics(db: &Db, limit: usize) -> Result<Vec<JobMetric>, AppError> {
    sqlx::query_as(
        "SELECT r.job_namespace AS namespace, r.job_name AS name, r.key, m.value, m.nan          FROM (SELECT id, job_namespace, job_name, start_ms, COALESCE((SELECT t.value                  FROM mlflow_run_tags t WHERE t.run_id = mlflow_runs.id AND t.key = $1), $2)                  AS key                FROM mlflow_runs WHERE job_uid IS NOT NULL AND lifecycle_stage = 'active'                ORDER BY start_ms DESC LIMIT $3) r          JOIN mlflow_metrics m ON m.run_id = r.id AND m.key = r.key AND m.step =            (SELECT MAX(x.step) FROM mlflow_metrics x WHERE x.run_id = r.id AND x.key = r.key)          ORDER BY r.start_ms DESC, m.timestamp_ms DESC",
    )
    .bind(crate::models::KEY_METRIC_TAG)
    .bind(crate::models::KEY_METRIC)
    .bind(limit as i64)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("reading jobs' key metrics", e))
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
