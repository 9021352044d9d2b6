//! A version's lineage (server only): the version, the run that logged it (params, latest
//! metrics), the Job that ran the run (from the jobs history, as the user), and the version
//! it was made from. Each link shows only what the caller may see.

use super::server::{
    experiment_of, experiment_summary, pairs, run_summary, version_summary, visible_run,
};
use super::{store, LineageRun, VersionDetail, PARENT_TAG};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// Version `number` of model `name` with its lineage, once the caller may see the model.
pub async fn version(
    state: &AppState,
    caller: &Caller,
    name: &str,
    number: i64,
) -> Result<VersionDetail, AppError> {
    let model = store::registered(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("model {name:?}")))?;
    caller.check(Action::View, Some(&model.namespace))?;
    let row = store::version(&state.db, model.id, number)
        .await?
        .ok_or_else(|| AppError::not_found(format!("version {number} of model {name:?}")))?;
    let tags: Vec<(String, String)> = store::version_tags_of(&state.db, &[(model.id, number)])
        .await?
        .into_iter()
        .map(|(_, _, key, value)| (key, value))
        .collect();
    let parent = tags
        .iter()
        .find(|(key, _)| key == PARENT_TAG)
        .and_then(|(_, uri)| parent_of(uri));
    let found = visible_run(state, caller, &row.run_id).await?;
    let job = match found.as_ref().and_then(|r| r.job_uid.as_deref()) {
        Some(uid) => crate::jobs::lineage::of_uid(state, caller, uid)
            .await
            .transpose(),
        None => None,
    };
    let run = match found {
        Some(found) => {
            let experiment = experiment_of(state, caller, found.experiment_id).await?;
            Some(LineageRun {
                run: run_summary(state, &found).await?,
                experiment: experiment_summary(experiment),
                params: pairs(store::run_params(&state.db, &found.id).await?),
            })
        }
        None => None,
    };
    let aliases = store::aliases(&state.db, model.id).await?;
    let can_manage = caller
        .check(Action::ManageModels, Some(&model.namespace))
        .is_ok();
    Ok(VersionDetail {
        can_manage,
        model: model.name,
        namespace: model.namespace,
        description_html: super::markdown::to_safe_html(&row.description),
        version: version_summary(row, &aliases),
        tags,
        run,
        job,
        parent,
    })
}

/// `(model, version)` from a `models:/<name>/<version>` URI; none for anything else (an
/// alias, a logged model's id, a typo), which the page then does not link.
fn parent_of(uri: &str) -> Option<(String, i64)> {
    let (name, version) = uri.strip_prefix("models:/")?.rsplit_once('/')?;
    let version = version.parse().ok().filter(|v| *v > 0)?;
    (!name.is_empty()).then(|| (name.to_string(), version))
}

#[cfg(test)]
mod tests {
    use super::parent_of;

    #[test]
    fn a_parent_is_a_model_version_uri() {
        assert_eq!(parent_of("models:/scorer/3"), Some(("scorer".into(), 3)));
        assert_eq!(
            parent_of("models:/team/scorer/12"),
            Some(("team/scorer".into(), 12))
        );
        for not_one in [
            "models:/scorer@champion",
            "models:/scorer/x",
            "models:/scorer/0",
            "models://3",
            "runs:/r/model",
        ] {
            assert_eq!(parent_of(not_one), None, "{not_one}");
        }
    }
}
