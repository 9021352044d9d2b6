//! The Models area's reads, as the user (server only): the registered models they may see,
//! and one model with its versions. The pages' server functions and the JSON API call these.

use super::filter::Narrowing;
use super::{store, ModelDetail, ModelSummary, VersionSummary};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

use super::LIST_LIMIT;

/// The registered models the caller may see whose name contains `search`, by name: the first
/// [`LIST_LIMIT`] (the page says to search when there are more).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    search: &str,
) -> Result<Vec<ModelSummary>, AppError> {
    let pattern = format!("%{}%", search.trim());
    let narrowing = [Narrowing {
        field: "name",
        exact: false,
        value: &pattern,
    }];
    let rows = store::registered_matching(&state.db, &caller.namespaces, &narrowing).await?;
    let mut found = Vec::new();
    for row in rows.iter().take(LIST_LIMIT) {
        found.push(summary(state, row).await?.0);
    }
    Ok(found)
}

/// Model `name` with its versions, if the caller may see its namespace.
pub async fn detail(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<ModelDetail, AppError> {
    let row = store::registered(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("model {name:?}")))?;
    caller.check(Action::View, Some(&row.namespace))?;
    let (model, versions) = summary(state, &row).await?;
    let aliases = store::aliases(&state.db, row.id).await?;
    let tags = store::registered_tags(&state.db, row.id)
        .await?
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    let versions = versions
        .into_iter()
        .map(|v| VersionSummary {
            version: v.version,
            stage: v.stage,
            aliases: aliases
                .iter()
                .filter(|(_, n)| *n == v.version)
                .map(|(a, _)| a.clone())
                .collect(),
            source: v.source,
            run_id: v.run_id,
            created_by: v.created_by,
            created: crate::time::format_unix((v.created_ms / 1000).max(0) as u64),
        })
        .collect();
    let can_manage = caller
        .check(Action::ManageModels, Some(&row.namespace))
        .is_ok();
    Ok(ModelDetail {
        model,
        can_manage,
        tags,
        versions,
    })
}

async fn summary(
    state: &AppState,
    row: &store::RegisteredRow,
) -> Result<(ModelSummary, Vec<store::VersionRow>), AppError> {
    let versions = store::versions(&state.db, row.id).await?;
    let summary = ModelSummary {
        name: row.name.clone(),
        namespace: row.namespace.clone(),
        description: row.description.clone(),
        latest_version: versions.iter().map(|v| v.version).max(),
        versions: versions.len(),
        aliases: store::aliases(&state.db, row.id).await?,
        updated: crate::time::format_unix((row.updated_ms / 1000).max(0) as u64),
    };
    Ok((summary, versions))
}
