//! How long Gantry keeps what it records (server only): job history, captured logs, the
//! serving history and the audit log, each by age and (all but logs) by count, and the stage
//! files crashed artifact uploads left, applied at start and every hour, by the leading
//! replica. Each area's store deletes its own; this only says when and how much.

use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use crate::models::artifacts::Artifacts;
use crate::time::format_unix;

/// The limits, from `GANTRY_RETENTION_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days a gone job's history row is kept, and how many gone jobs at most.
    pub jobs_days: u64,
    pub jobs_rows: i64,
    /// Days captured logs are kept.
    pub logs_days: u64,
    /// Days a serving history row is kept, and how many rows at most.
    pub serving_days: u64,
    pub serving_rows: i64,
    /// Days audit entries are kept, and how many at most.
    pub audit_days: u64,
    pub audit_rows: i64,
    /// Hours a local artifact upload's stage file may go unwritten before it is swept.
    pub artifact_stage_hours: u64,
}

/// How often retention runs after the first time (at start).
const EVERY: Duration = Duration::from_secs(3600);

/// Applies `retention` now and then every hour while this replica leads, until `stopping`
/// turns true.
pub async fn run(
    db: Db,
    artifacts: Arc<Artifacts>,
    retention: Retention,
    leader: crate::leader::Leadership,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if leader.is_leader() {
            apply(&db, &retention, crate::time::unix_now()).await;
            let idle = Duration::from_secs(retention.artifact_stage_hours * 3600);
            match artifacts.sweep_stages(idle).await {
                Ok(0) => {}
                Ok(files) => tracing::info!(files, "retention: stages of crashed uploads deleted"),
                Err(error) => tracing::warn!(%error, "sweeping the artifact store's stages failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stopping.wait_for(|stopping| *stopping) => return,
        }
    }
}

/// One pass at time `now` (seconds since the epoch); failures are logged and tried again
/// at the next pass.
pub async fn apply(db: &Db, retention: &Retention, now: u64) {
    let before = |days: u64| format_unix(now.saturating_sub(days * 86_400));
    match crate::jobs::store::expire(
        db,
        &before(retention.jobs_days),
        retention.jobs_rows,
        &before(retention.logs_days),
    )
    .await
    {
        Ok((0, 0)) => {}
        Ok((jobs, logs)) => tracing::info!(
            jobs,
            logs,
            "retention: job history and captured logs deleted"
        ),
        Err(error) => tracing::warn!(%error, "retention of the job history failed"),
    }
    match crate::serving::store::expire(db, &before(retention.serving_days), retention.serving_rows)
        .await
    {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "retention: serving history deleted"),
        Err(error) => tracing::warn!(%error, "retention of the serving history failed"),
    }
    match crate::audit::store::expire(db, &before(retention.audit_days), retention.audit_rows).await
    {
        Ok(0) => {}
        Ok(entries) => tracing::info!(entries, "retention: audit entries deleted"),
        Err(error) => tracing::warn!(%error, "retention of the audit log failed"),
    }
}
