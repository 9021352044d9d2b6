//! A finished job's GPU use (server only): once a job that held GPUs has ended, and its last
//! samples have had time to reach Prometheus, its GPU-hours and mean utilisation are asked of
//! Prometheus once and stored in its history row, where they outlive Prometheus' retention
//! and feed the jobs list's "GPU efficiency" column.

use std::time::Duration;

use super::store::{self, Unmeasured};
use super::GpuUse;
use crate::db::Db;
use crate::leader::Leadership;
use crate::metrics::prom::Prometheus;
use crate::metrics::promql;
use crate::time::{format_secs, parse_utc, unix_now};

/// How often ended jobs are looked for, and how many are measured each time (the rest wait
/// for the next round: a backlog after an outage costs a few queries a round, not a burst).
const ROUND: Duration = Duration::from_secs(10);
const PER_ROUND: i64 = 20;

/// Starts the measuring task; `delay` is how long after a job's end it is measured. Only
/// the leading replica measures.
pub fn start(db: Db, prometheus: Prometheus, delay: Duration, leader: Leadership) {
    tokio::spawn(async move {
        loop {
            if leader.is_leader() {
                measure_ended(&db, &prometheus, delay).await;
            }
            tokio::time::sleep(ROUND).await;
        }
    });
}

/// One round: every job ended at least `delay` ago and not yet measured, up to
/// [`PER_ROUND`]. One Prometheus cannot answer is tried again next round.
async fn measure_ended(db: &Db, prometheus: &Prometheus, delay: Duration) {
    let before = format_secs(unix_now() as i64 - delay.as_secs() as i64);
    let jobs = match store::unmeasured(db, &before, PER_ROUND).await {
        Ok(jobs) => jobs,
        Err(error) => {
            tracing::warn!(%error, "cannot read the jobs waiting for their GPU use");
            return;
        }
    };
    for job in jobs {
        match measure(prometheus, &job).await {
            Ok(gpu_use) => {
                if let Err(error) = store::measured(db, &job.uid, gpu_use).await {
                    tracing::warn!(%error, job = %job.name, "cannot store a job's GPU use");
                }
            }
            Err(reason) => {
                tracing::info!(%reason, job = %job.name, "a job's GPU use waits for Prometheus");
                return;
            }
        }
    }
}

/// The job's GPU use from Prometheus; `None` when it has no series of the job (it ran
/// before Prometheus' retention, or its GPUs reported nothing).
async fn measure(prometheus: &Prometheus, job: &Unmeasured) -> Result<Option<GpuUse>, String> {
    let (Some(started), Some(ended)) = (parse_utc(&job.started_at), parse_utc(&job.ended_at))
    else {
        return Ok(None);
    };
    let seconds = (ended - started).max(15) as u64;
    let seconds = seconds.div_ceil(15) * 15;
    let dialect = prometheus.dialect().await;
    let selector = promql::job_selector(dialect, &job.namespace, &job.name);
    let [hours, mean] = promql::job_use(&selector, seconds);
    // Evaluated a step after the end: the last sample before it is inside the window.
    let at = ended + 15;
    let (hours, mean) = tokio::join!(prometheus.at(&hours, at), prometheus.at(&mean, at));
    let first = |samples: Vec<(_, f64)>| samples.first().map(|s| s.1).filter(|v| v.is_finite());
    Ok(match (first(hours?), first(mean?)) {
        (Some(gpu_hours), Some(mean_percent)) if gpu_hours > 0.0 => Some(GpuUse {
            gpu_hours,
            mean_percent,
        }),
        _ => None,
    })
}
