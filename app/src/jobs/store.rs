//! The jobs area's tables, and every query on them (server only): `jobs` (the history: a row
//! per Job ever seen, kept after the Job is gone), `job_logs` (the last lines of each pod,
//! captured when its job finished) and `job_templates` (saved launch forms).

use super::info::JobInfo;
use super::{GpuUse, JobPhase, JobRow, Template};
use crate::db::Db;
use crate::error::AppError;
use crate::time::{format_secs, now_rfc3339};

/// A job as the history remembers it.
#[derive(sqlx::FromRow)]
pub struct HistoryRow {
    pub namespace: String,
    pub name: String,
    launched_by: Option<String>,
    created_at: String,
    status: String,
    reason: Option<String>,
    gpus_per_pod: i64,
    gpu_resource: Option<String>,
    gpu_model: Option<String>,
    completions: i64,
    started_at: Option<String>,
    finished_at: Option<String>,
    gpu_hours: Option<f64>,
    gpu_mean_percent: Option<f64>,
}

/// The stored figures, when both are.
fn gpu_use(hours: Option<f64>, mean_percent: Option<f64>) -> Option<GpuUse> {
    Some(GpuUse {
        gpu_hours: hours?,
        mean_percent: mean_percent?,
    })
}

impl HistoryRow {
    /// When it ran: its start (or creation) and its end, in seconds since the epoch.
    pub fn run(&self) -> (i64, Option<i64>) {
        let parse = |t: &Option<String>| t.as_deref().and_then(crate::time::parse_utc);
        let created = crate::time::parse_utc(&self.created_at).unwrap_or(0);
        (
            parse(&self.started_at).unwrap_or(created),
            parse(&self.finished_at),
        )
    }

    /// The list's row for a job only the history has.
    pub fn into_row(self) -> JobRow {
        let (started, finished) = self.run();
        JobRow {
            duration_secs: self.started_at.as_ref().and(finished).map(|f| f - started),
            gpu_use: gpu_use(self.gpu_hours, self.gpu_mean_percent),
            kind: "Job".into(),
            phase: JobPhase::parse(&self.status),
            namespace: self.namespace,
            name: self.name,
            reason: self.reason,
            launched_by: self.launched_by,
            created: self.created_at,
            gpus_per_pod: self.gpus_per_pod,
            gpu_resource: self.gpu_resource,
            gpu_model: self.gpu_model,
            parallelism: 0,
            completions: self.completions as i32,
            succeeded: 0,
            failed: 0,
            active: 0,
            in_cluster: false,
            key_metric: None,
        }
    }
}

/// A job's newest history row with its uid and launch form.
#[derive(sqlx::FromRow)]
pub struct Remembered {
    pub uid: String,
    pub form: Option<String>,
    #[sqlx(flatten)]
    pub row: HistoryRow,
}

const HISTORY_COLUMNS: &str = "namespace, name, launched_by, created_at, status, reason, \
                               gpus_per_pod, gpu_resource, gpu_model, completions, \
                               started_at, finished_at, gpu_hours, gpu_mean_percent";

/// Creates or updates the Job's history row as the watch sees it (a Job seen is in the
/// cluster, whatever a reconcile concluded). Who launched it is never taken from the Job
/// (anyone with kubectl can set a label): only [`launched`] writes it.
pub async fn record(db: &Db, job: &JobInfo) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO jobs (uid, namespace, name, created_at, started_at, finished_at,
                           status, reason, gpus_per_pod, gpu_resource, gpu_model, completions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (uid) DO UPDATE SET
           started_at = excluded.started_at, finished_at = excluded.finished_at,
           status = excluded.status, reason = excluded.reason, deleted_at = NULL",
    )
    .bind(&job.uid)
    .bind(&job.namespace)
    .bind(&job.name)
    .bind(format_secs(job.created))
    .bind(job.started.map(format_secs))
    .bind(job.finished.map(format_secs))
    .bind(job.phase.as_str())
    .bind(&job.reason)
    .bind(job.gpus_per_pod)
    .bind(&job.gpu_resource)
    .bind(&job.gpu_model)
    .bind(job.completions)
    .execute(db.pool())
    .await
    .map_err(|e| crate::db::failed("recording a job's history", e))?;
    Ok(())
}

/// Records a Job just launched through Gantry, with its launcher and form (for clone and
/// re-run).
pub async fn launched(
    db: &Db,
    job: &JobInfo,
    launched_by: &str,
    form_json: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO jobs (uid, namespace, name, launched_by, form, created_at, status,
                           gpus_per_pod, gpu_resource, gpu_model, completions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (uid) DO UPDATE SET launched_by = excluded.launched_by, form = excluded.form",
    )
    .bind(&job.uid)
    .bind(&job.namespace)
    .bind(&job.name)
    .bind(launched_by)
    .bind(form_json)
    .bind(format_secs(job.created))
    .bind(job.phase.as_str())
    .bind(job.gpus_per_pod)
    .bind(&job.gpu_resource)
    .bind(&job.gpu_model)
    .bind(job.completions)
    .execute(db.pool())
    .await
    .map_err(|e| crate::db::failed("recording a launched job", e))?;
    Ok(())
}

/// How a Job that left the cluster unseen (while Gantry was away) ended, as its events say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Succeeded,
    Failed(String),
    /// Its events had expired too.
    Unseen,
}

/// Marks the Job gone from the cluster. One seen deleted (`ended` is `None`) before it
/// finished (cancelled, or removed by hand) is recorded as failed for that reason, not left
/// "Running" for ever; one found gone after a (re)list ended as `ended` says.
pub async fn gone(db: &Db, uid: &str, ended: Option<Ended>) -> Result<(), AppError> {
    let (status, reason) = match ended {
        None => ("Failed", "deleted before it finished".to_string()),
        Some(Ended::Succeeded) => ("Succeeded", String::new()),
        Some(Ended::Failed(reason)) => ("Failed", reason),
        Some(Ended::Unseen) => (
            "Failed",
            "gone from the cluster while Gantry was away; how it ended was not seen".into(),
        ),
    };
    sqlx::query(
        "UPDATE jobs SET deleted_at = $1,
           reason = CASE WHEN status IN ('Pending', 'Running', 'Suspended')
                         THEN NULLIF($2, '') ELSE reason END,
           status = CASE WHEN status IN ('Pending', 'Running', 'Suspended')
                         THEN $3 ELSE status END
         WHERE uid = $4 AND deleted_at IS NULL",
    )
    .bind(now_rfc3339())
    .bind(reason)
    .bind(status)
    .bind(uid)
    .execute(db.pool())
    .await
    .map_err(|e| crate::db::failed("recording that a job is gone", e))?;
    Ok(())
}

/// The (uid, namespace, name) of every row whose Job was last seen in the cluster.
pub async fn not_gone(db: &Db) -> Result<Vec<(String, String, String)>, AppError> {
    sqlx::query_as("SELECT uid, namespace, name FROM jobs WHERE deleted_at IS NULL")
        .fetch_all(db.pool())
        .await
        .map_err(|e| crate::db::failed("reading the job history", e))
}

/// What the history adds to a Job still in the cluster: who launched it through Gantry,
/// and its GPU use once measured.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub launched_by: Option<String>,
    pub gpu_use: Option<GpuUse>,
}

/// A row as [`kept`] and [`kept_of`] read it.
#[derive(sqlx::FromRow)]
struct KeptRow {
    uid: String,
    launched_by: Option<String>,
    gpu_hours: Option<f64>,
    gpu_mean_percent: Option<f64>,
}

impl KeptRow {
    fn kept(self) -> Kept {
        Kept {
            launched_by: self.launched_by,
            gpu_use: gpu_use(self.gpu_hours, self.gpu_mean_percent),
        }
    }
}

const KEPT_COLUMNS: &str = "uid, launched_by, gpu_hours, gpu_mean_percent";

/// [`Kept`] of each Job still in the cluster that has any, by uid.
pub async fn kept(db: &Db) -> Result<std::collections::HashMap<String, Kept>, AppError> {
    let rows: Vec<KeptRow> = sqlx::query_as(&format!(
        "SELECT {KEPT_COLUMNS} FROM jobs
         WHERE deleted_at IS NULL AND (launched_by IS NOT NULL OR gpu_hours IS NOT NULL)"
    ))
    .fetch_all(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading the job history", e))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.uid.clone(), r.kept()))
        .collect())
}

/// [`Kept`] of the Job `uid` (empty when the history has no row of it).
pub async fn kept_of(db: &Db, uid: &str) -> Result<Kept, AppError> {
    let row: Option<KeptRow> =
        sqlx::query_as(&format!("SELECT {KEPT_COLUMNS} FROM jobs WHERE uid = $1"))
            .bind(uid)
            .fetch_optional(db.pool())
            .await
            .map_err(|e| crate::db::failed("reading the job history", e))?;
    Ok(row.map_or_else(Kept::default, KeptRow::kept))
}

/// A job waiting for its GPU use to be measured.
#[derive(Debug, sqlx::FromRow)]
pub struct Unmeasured {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub started_at: String,
    /// When it finished, or was deleted before it did.
    pub ended_at: String,
}

/// Jobs that held GPUs and ended before `ended_before`, not yet measured, oldest first, at
/// most `limit`.
pub async fn unmeasured(
    db: &Db,
    ended_before: &str,
    limit: i64,
) -> Result<Vec<Unmeasured>, AppError> {
    sqlx::query_as(
        "SELECT uid, namespace, name, started_at, COALESCE(finished_at, deleted_at) AS ended_at
         FROM jobs
         WHERE gpu_measured_at IS NULL AND gpus_per_pod > 0 AND started_at IS NOT NULL
           AND COALESCE(finished_at, deleted_at) < $1
         ORDER BY COALESCE(finished_at, deleted_at) LIMIT $2",
    )
    .bind(ended_before)
    .bind(limit)
    .fetch_all(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading the job history", e))
}

/// Stores a job's measured GPU use (`None`: Prometheus had no series of it).
pub async fn measured(db: &Db, uid: &str, gpu_use: Option<GpuUse>) -> Result<(), AppError> {
    // NB: no `Option<f64>` bound as NULL: sqlx 0.8.6's Any driver sends a NULL double as a
    // float4, and PostgreSQL then refuses the statement it prepared when a real value comes
    // ("incorrect binary data format"). Without figures the NULLs are in the SQL.
    let now = now_rfc3339();
    let query = match gpu_use {
        Some(u) => sqlx::query(
            "UPDATE jobs SET gpu_measured_at = $1, gpu_hours = $3, gpu_mean_percent = $4 \
             WHERE uid = $2",
        )
        .bind(now)
        .bind(uid)
        .bind(u.gpu_hours)
        .bind(u.mean_percent),
        None => sqlx::query(
            "UPDATE jobs SET gpu_measured_at = $1, gpu_hours = NULL, gpu_mean_percent = NULL \
             WHERE uid = $2",
        )
        .bind(now)
        .bind(uid),
    };
    query
        .execute(db.pool())
        .await
        .map_err(|e| crate::db::failed("recording a job's GPU use", e))?;
    Ok(())
}

/// Jobs gone from the cluster, newest first, at most `limit`.
pub async fn gone_jobs(db: &Db, limit: usize) -> Result<Vec<HistoryRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {HISTORY_COLUMNS} FROM jobs WHERE deleted_at IS NOT NULL
         ORDER BY created_at DESC LIMIT $1"
    ))
    .bind(limit as i64)
    .fetch_all(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading the job history", e))
}

/// Retention: deletes the captured logs kept before `logs_before`, and the history of jobs
/// gone before `jobs_before` or beyond the newest `keep_jobs` gone ones (with their logs).
/// Rows of Jobs still in the cluster are kept. Returns (history rows, logs) deleted.
pub async fn expire(
    db: &Db,
    jobs_before: &str,
    keep_jobs: i64,
    logs_before: &str,
) -> Result<(u64, u64), AppError> {
    let failed = |e| crate::db::failed("applying the job history's retention", e);
    let mut tx = db.pool().begin().await.map_err(failed)?;
    let expired = "SELECT uid FROM jobs WHERE deleted_at IS NOT NULL AND (deleted_at < $1 \
                   OR id NOT IN (SELECT id FROM jobs WHERE deleted_at IS NOT NULL \
                                 ORDER BY deleted_at DESC LIMIT $2))";
    let logs = sqlx::query(&format!(
        "DELETE FROM job_logs WHERE captured_at < $3 OR job_uid IN ({expired})"
    ))
    .bind(jobs_before)
    .bind(keep_jobs)
    .bind(logs_before)
    .execute(&mut *tx)
    .await
    .map_err(failed)?
    .rows_affected();
    let jobs = sqlx::query(&format!("DELETE FROM jobs WHERE uid IN ({expired})"))
        .bind(jobs_before)
        .bind(keep_jobs)
        .execute(&mut *tx)
        .await
        .map_err(failed)?
        .rows_affected();
    tx.commit().await.map_err(failed)?;
    Ok((jobs, logs))
}

/// The newest history row of `namespace/name`.
pub async fn remembered(
    db: &Db,
    namespace: &str,
    name: &str,
) -> Result<Option<Remembered>, AppError> {
    sqlx::query_as(&format!(
        "SELECT uid, form, {HISTORY_COLUMNS} FROM jobs WHERE namespace = $1 AND name = $2
         ORDER BY created_at DESC LIMIT 1"
    ))
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading the job history", e))
}

/// The history row of the Job whose uid is `uid`.
pub async fn by_uid(db: &Db, uid: &str) -> Result<Option<Remembered>, AppError> {
    sqlx::query_as(&format!(
        "SELECT uid, form, {HISTORY_COLUMNS} FROM jobs WHERE uid = $1"
    ))
    .bind(uid)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading the job history", e))
}

/// Keeps a pod's last log lines (replacing earlier ones of that job and pod).
pub async fn keep_log(db: &Db, job_uid: &str, pod: &str, lines: String) {
    let result = sqlx::query(
        "INSERT INTO job_logs (job_uid, pod, lines, captured_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (job_uid, pod) DO UPDATE SET lines = excluded.lines,
           captured_at = excluded.captured_at",
    )
    .bind(job_uid)
    .bind(pod)
    // PostgreSQL's text cannot hold NUL, which a binary log may contain.
    .bind(lines.replace('\0', ""))
    .bind(now_rfc3339())
    .execute(db.pool())
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, %pod, "could not keep a pod's last log lines");
    }
}

/// The captured logs of a job, (pod, lines) by pod name.
pub async fn kept_logs(db: &Db, job_uid: &str) -> Result<Vec<(String, String)>, AppError> {
    sqlx::query_as("SELECT pod, lines FROM job_logs WHERE job_uid = $1 ORDER BY pod")
        .bind(job_uid)
        .fetch_all(db.pool())
        .await
        .map_err(|e| crate::db::failed("reading captured logs", e))
}

/// The form the newest launch of `namespace/name` was made with, as stored (JSON).
pub async fn launch_form(db: &Db, namespace: &str, name: &str) -> Result<Option<String>, AppError> {
    let stored: Option<(String,)> = sqlx::query_as(
        "SELECT form FROM jobs WHERE namespace = $1 AND name = $2 AND form IS NOT NULL
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading a job's form", e))?;
    Ok(stored.map(|(form,)| form))
}

/// `owner`'s templates, by name.
pub async fn templates(db: &Db, owner: &str) -> Result<Vec<Template>, AppError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, name, updated_at FROM job_templates WHERE owner = $1 ORDER BY name",
    )
    .bind(owner)
    .fetch_all(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading templates", e))?;
    Ok(rows
        .into_iter()
        .map(|(id, name, updated_at)| Template {
            id,
            name,
            updated_at,
        })
        .collect())
}

/// The form of `owner`'s template `id`, as stored (JSON).
pub async fn template(db: &Db, owner: &str, id: i64) -> Result<Option<String>, AppError> {
    let form: Option<(String,)> =
        sqlx::query_as("SELECT form FROM job_templates WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .fetch_optional(db.pool())
            .await
            .map_err(|e| crate::db::failed("reading a template", e))?;
    Ok(form.map(|(form,)| form))
}

/// How many templates `owner` has besides one named `name`.
pub async fn other_templates(
    conn: &mut crate::db::Conn,
    owner: &str,
    name: &str,
) -> Result<i64, AppError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM job_templates WHERE owner = $1 AND name <> $2")
        .bind(owner)
        .bind(name)
        .fetch_one(conn)
        .await
        .map_err(|e| crate::db::failed("counting templates", e))
}

/// Saves `owner`'s template `name` (replacing one of that name).
pub async fn save_template(
    conn: &mut crate::db::Conn,
    owner: &str,
    name: &str,
    form_json: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO job_templates (owner, name, form, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner, name) DO UPDATE SET form = excluded.form, updated_at = excluded.updated_at",
    )
    .bind(owner)
    .bind(name)
    .bind(form_json)
    .bind(now_rfc3339())
    .execute(conn)
    .await
    .map_err(|e| crate::db::failed("saving a template", e))?;
    Ok(())
}
