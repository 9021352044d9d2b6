//! A job as a model version's lineage names it (server only): the Models area asks for the
//! Job behind a run by its uid, and gets what the history kept of it (the image, command,
//! GPUs and volumes from its launch form, how long it ran and its GPU-hours), as the user.

use super::form::JobForm;
use super::server::may_list_jobs;
use super::{store, JobLineage};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// The Job whose uid is `uid`, once the caller may see jobs in its namespace (by Gantry's
/// rules and the cluster's); `None` when the history never saw it.
pub async fn of_uid(
    state: &AppState,
    caller: &Caller,
    uid: &str,
) -> Result<Option<JobLineage>, AppError> {
    let Some(store::Remembered { form, row, .. }) = store::by_uid(&state.db, uid).await? else {
        return Ok(None);
    };
    caller.check(Action::View, Some(&row.namespace))?;
    may_list_jobs(state, caller, &row.namespace).await?;
    let form: Option<JobForm> = form.and_then(|f| serde_json::from_str(&f).ok());
    let row = row.into_row();
    let (command, image, volumes) = match form {
        Some(form) => (
            form.command_line(),
            form.image,
            form.mounts
                .iter()
                .map(|m| {
                    let mode = if m.read_only { " (read-only)" } else { "" };
                    format!("{} → {}{mode}", m.claim, m.path)
                })
                .collect(),
        ),
        None => Default::default(),
    };
    Ok(Some(JobLineage {
        namespace: row.namespace,
        name: row.name,
        phase: row.phase,
        image,
        command,
        gpus_per_pod: row.gpus_per_pod,
        gpu_resource: row.gpu_resource,
        gpu_model: row.gpu_model,
        completions: row.completions as i64,
        volumes,
        duration_secs: row.duration_secs,
        gpu_hours: row.gpu_use.map(|u| u.gpu_hours),
    }))
}
