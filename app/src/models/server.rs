//! The Models area's reads, as the user (server only): the registered models they may see,
//! and one model with its versions. The pages' server functions and the JSON API call these.

use super::artifacts::ArtifactPath;
use super::filter::Narrowing;
use super::{
    registry, store, ModelDetail, ModelSummary, VersionFile, VersionFiles, VersionSummary,
};
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

/// The files of a version in `folder`: its root when empty, else a folder below it (a `path`
/// an earlier listing gave; anything outside the version's root is refused).
pub async fn files(
    state: &AppState,
    caller: &Caller,
    name: &str,
    version: i64,
    folder: &str,
) -> Result<VersionFiles, AppError> {
    let model = store::registered(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("model {name:?}")))?;
    caller.check(Action::View, Some(&model.namespace))?;
    let v = store::version(&state.db, model.id, version)
        .await?
        .ok_or_else(|| AppError::not_found(format!("version {version} of {name:?}")))?;
    let uri = registry::artifact_uri(state, &v).await?;
    let Some(root) = uri.strip_prefix("mlflow-artifacts:/") else {
        return Ok(VersionFiles {
            kept_by_gantry: false,
            source: uri,
            files: Vec::new(),
        });
    };
    let listed = if folder.is_empty() { root } else { folder };
    let path = ArtifactPath::parse(listed)?;
    if !path.starts_with(root) {
        return Err(AppError::invalid(
            "folder",
            "is not inside this version's files",
        ));
    }
    // Entries come relative to the `artifacts` folder they are in: what they are kept under
    // is that folder's path and theirs.
    let (before, _) = root.split_once("/artifacts").unwrap_or((root, ""));
    let base = format!("{before}/artifacts");
    let files = state
        .artifacts
        .list(&path)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let path = format!("{base}/{}", f.path);
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .trim_start_matches('/')
                .to_string();
            VersionFile {
                name,
                path,
                is_dir: f.is_dir,
                size: f.file_size,
            }
        })
        .collect();
    Ok(VersionFiles {
        kept_by_gantry: true,
        source: uri,
        files,
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
