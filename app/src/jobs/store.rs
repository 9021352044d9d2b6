//! The jobs area's tables, and every query on them (server only): `jobs` (the history: a row
//! per Job ever seen, kept after the Job is gone), `job_logs` (the last lines of each pod,
//! captured when its job finished) and `job_templates` (saved launch forms).

use super::info::JobInfo;
use super::{JobPhase, JobRow, Template};
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
}

impl HistoryRow {
    /// The list's row for a job only the history has.
    pub fn into_row(self) -> JobRow {
        JobRow {
            kind: "Job".into(),
            phase: JobPhase::parse(&self.status),
            namespace: self.namespace,
            name: self.name,
            reason: self.reason,
            launched_by: self.launched_by,
            created: self.created_at,
            duration_secs: None,
            gpus_per_pod: self.gpus_per_pod,
            gpu_resource: self.gpu_resource,
            gpu_model: self.gpu_model,
            parallelism: 0,
            completions: self.completions as i32,
            succeeded: 0,
            failed: 0,
            active: 0,
            in_cluster: false,
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
                               gpus_per_pod, gpu_resource, gpu_model, completions";

/// Creates or updates the Job's history row as the watch sees it. A row written at launch
/// keeps its launcher and form; failures are logged, never fatal to the watch.
pub async fn record(db: &Db, job: &JobInfo) {
    let result = sqlx::query(
        "INSERT INTO jobs (uid, namespace, name, launched_by, created_at, started_at, finished_at,
                           status, reason, gpus_per_pod, gpu_resource, gpu_model, completions)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (uid) DO UPDATE SET
           started_at = excluded.started_at, finished_at = excluded.finished_at,
           status = excluded.status, reason = excluded.reason",
    )
    .bind(&job.uid)
    .bind(&job.namespace)
    .bind(&job.name)
    .bind(&job.launched_by)
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
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, job = %job.name, "could not record the job's history");
    }
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
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
    .map_err(|e| AppError::internal("recording a launched job", e))?;
    Ok(())
}

/// Marks the Job gone from the cluster. One deleted before it finished (cancelled, or
/// removed by hand) is recorded as failed for that reason, not left "Running" for ever.
pub async fn gone(db: &Db, uid: &str) {
    let result = sqlx::query(
        "UPDATE jobs SET deleted_at = ?,
           reason = CASE WHEN status IN ('Pending', 'Running', 'Suspended')
                         THEN 'deleted before it finished' ELSE reason END,
           status = CASE WHEN status IN ('Pending', 'Running', 'Suspended')
                         THEN 'Failed' ELSE status END
         WHERE uid = ? AND deleted_at IS NULL",
    )
    .bind(now_rfc3339())
    .bind(uid)
    .execute(db.pool())
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, "could not record that a job is gone");
    }
}

/// Jobs gone from the cluster, newest first, at most `limit`.
pub async fn gone_jobs(db: &Db, limit: usize) -> Result<Vec<HistoryRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {HISTORY_COLUMNS} FROM jobs WHERE deleted_at IS NOT NULL
         ORDER BY created_at DESC LIMIT ?"
    ))
    .bind(limit as i64)
    .fetch_all(db.pool())
    .await
    .map_err(|e| AppError::internal("reading the job history", e))
}

/// The newest history row of `namespace/name`.
pub async fn remembered(
    db: &Db,
    namespace: &str,
    name: &str,
) -> Result<Option<Remembered>, AppError> {
    sqlx::query_as(&format!(
        "SELECT uid, form, {HISTORY_COLUMNS} FROM jobs WHERE namespace = ? AND name = ?
         ORDER BY created_at DESC LIMIT 1"
    ))
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| AppError::internal("reading the job history", e))
}

/// Keeps a pod's last log lines (replacing earlier ones of that job and pod).
pub async fn keep_log(db: &Db, job_uid: &str, pod: &str, lines: String) {
    let result = sqlx::query(
        "INSERT INTO job_logs (job_uid, pod, lines, captured_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (job_uid, pod) DO UPDATE SET lines = excluded.lines,
           captured_at = excluded.captured_at",
    )
    .bind(job_uid)
    .bind(pod)
    .bind(lines)
    .bind(now_rfc3339())
    .execute(db.pool())
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, %pod, "could not keep a pod's last log lines");
    }
}

/// The captured logs of a job, (pod, lines) by pod name.
pub async fn kept_logs(db: &Db, job_uid: &str) -> Result<Vec<(String, String)>, AppError> {
    sqlx::query_as("SELECT pod, lines FROM job_logs WHERE job_uid = ? ORDER BY pod")
        .bind(job_uid)
        .fetch_all(db.pool())
        .await
        .map_err(|e| AppError::internal("reading captured logs", e))
}

/// The form the newest launch of `namespace/name` was made with, as stored (JSON).
pub async fn launch_form(db: &Db, namespace: &str, name: &str) -> Result<Option<String>, AppError> {
    let stored: Option<(String,)> = sqlx::query_as(
        "SELECT form FROM jobs WHERE namespace = ? AND name = ? AND form IS NOT NULL
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| AppError::internal("reading a job's form", e))?;
    Ok(stored.map(|(form,)| form))
}

/// `owner`'s templates, by name.
pub async fn templates(db: &Db, owner: &str) -> Result<Vec<Template>, AppError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, name, updated_at FROM job_templates WHERE owner = ? ORDER BY name",
    )
    .bind(owner)
    .fetch_all(db.pool())
    .await
    .map_err(|e| AppError::internal("reading templates", e))?;
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
        sqlx::query_as("SELECT form FROM job_templates WHERE id = ? AND owner = ?")
            .bind(id)
            .bind(owner)
            .fetch_optional(db.pool())
            .await
            .map_err(|e| AppError::internal("reading a template", e))?;
    Ok(form.map(|(form,)| form))
}

/// Saves `owner`'s template `name` (replacing one of that name).
pub async fn save_template(
    db: &Db,
    owner: &str,
    name: &str,
    form_json: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO job_templates (owner, name, form, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (owner, name) DO UPDATE SET form = excluded.form, updated_at = excluded.updated_at",
    )
    .bind(owner)
    .bind(name)
    .bind(form_json)
    .bind(now_rfc3339())
    .execute(db.pool())
    .await
    .map_err(|e| AppError::internal("saving a template", e))?;
    Ok(())
}
