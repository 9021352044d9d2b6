//! The runs Gantry creates for the jobs it launches with tracking on (server only): in one
//! audited transaction, the experiment (when new), the run, which records the Job, and the
//! API token the job's pods log with, limited to MLflow's routes in the job's namespace
//! (`auth::layer`) and revoked when the Job ends (`jobs::history`).

use super::*;
use crate::auth::token_store::{self, NewToken};

/// What a job's run is made of.
pub struct JobRun<'a> {
    /// Chosen before the Job is created: its pods get it as `MLFLOW_RUN_ID`.
    pub run_id: &'a str,
    pub experiment: &'a str,
    pub namespace: &'a str,
    pub job_name: &'a str,
    pub job_uid: &'a str,
    /// The secret text of the pods' token (only its hash is stored).
    pub token: &'a str,
    /// When the token expires (UTC) if the Job has not ended by then.
    pub token_expires: &'a str,
}

/// Whether a job's run may go to experiment `name` from `namespace`: a new experiment
/// (`None`), or one of that namespace (its id); else the `experiment` field's error. Names
/// are unique across namespaces, as MLflow looks experiments up by name.
pub async fn check_experiment(
    state: &AppState,
    name: &str,
    namespace: &str,
) -> Result<Option<i64>, AppError> {
    if name.is_empty() || name.chars().count() > 500 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "experiment",
            "must be 1 to 500 characters on one line",
        ));
    }
    match store::experiment_by_name(&state.db, name).await? {
        Some(e) if e.namespace != namespace => Err(AppError::invalid(
            "experiment",
            format!(
                "{name:?} belongs to namespace {}; name another experiment",
                e.namespace
            ),
        )),
        Some(e) if e.lifecycle_stage != "active" => Err(AppError::invalid(
            "experiment",
            format!("{name:?} is deleted; name another experiment"),
        )),
        found => Ok(found.map(|e| e.id)),
    }
}

/// Creates the run of a launched Job, as `caller`; audited with the experiment it went to.
pub async fn create(state: &AppState, caller: &Caller, run: &JobRun<'_>) -> Result<(), AppError> {
    let existing = check_experiment(state, run.experiment, run.namespace).await?;
    let mut tx = state.db.begin().await?;
    let outcome = write(tx.conn(), caller, run, existing).await;
    let object = format!("job/{}/{}", run.namespace, run.job_name);
    let detail = format!(
        "run {} in experiment {:?}; a token for its pods until {}",
        run.run_id, run.experiment, run.token_expires
    );
    let entry = Entry {
        actor: &caller.username,
        action: "job.tracking",
        object: &object,
        detail: &detail,
    };
    audit::committed(&state.db, tx, entry, outcome).await
}

async fn write(
    conn: &mut crate::db::Conn,
    caller: &Caller,
    run: &JobRun<'_>,
    experiment: Option<i64>,
) -> Result<(), AppError> {
    let now = unix_now_ms();
    let experiment = match experiment {
        Some(id) => id,
        None => store::create_experiment(conn, run.experiment, run.namespace, &[], now).await?,
    };
    let row = RunRow {
        id: run.run_id.to_string(),
        experiment_id: experiment,
        name: run.job_name.to_string(),
        user_id: caller.username.clone(),
        status: "SCHEDULED".into(),
        start_ms: now,
        end_ms: None,
        lifecycle_stage: "active".into(),
        namespace: run.namespace.to_string(),
        job_name: Some(run.job_name.to_string()),
        job_uid: Some(run.job_uid.to_string()),
    };
    // What MLflow's own UI and client read: the run's name, and where it came from.
    let tags = [
        ("mlflow.runName", run.job_name.to_string()),
        ("mlflow.user", caller.username.clone()),
        ("gantry.job", format!("{}/{}", run.namespace, run.job_name)),
        ("gantry.job.uid", run.job_uid.to_string()),
    ]
    .map(|(key, value)| KeyValue {
        key: key.into(),
        value,
    });
    store::create_run(conn, &row, &tags, &caller.username).await?;
    store::link_run_to_job(conn, run.run_id, run.namespace, run.job_name, run.job_uid).await?;
    let created_at = crate::time::now_rfc3339();
    let name = format!("job {}/{} (MLflow)", run.namespace, run.job_name);
    let token = NewToken {
        account_id: caller.account_id,
        name: &name,
        token: run.token,
        created_at: &created_at,
        expires_at: Some(run.token_expires),
        job: Some((run.namespace, run.job_uid)),
    };
    token_store::insert(conn, &token).await
}
