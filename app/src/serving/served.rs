//! Where a registered model served (server only): the times the serving history shows a
//! service serving one of its versions' URIs, as the caller may see them.

use std::collections::HashMap;

use super::server::visible;
use super::store::{self, ServiceKey};
use super::{ServedTime, WhereServed, SERVED_SHOWN};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::models::store as registry;
use crate::state::AppState;

/// Versions of a model whose URIs are looked for: the newest.
pub const VERSIONS_LOOKED_UP: i64 = 500;

/// Where model `name`'s versions served, newest first: the model must be in a namespace the
/// caller may see, and each service in one where they may list its kind.
pub async fn served(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<WhereServed, AppError> {
    let what = format!("registered model {name}");
    let model = registry::registered(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(&what))?;
    // A model in a namespace the caller may not see is as absent as one never registered.
    caller
        .check(Action::View, Some(&model.namespace))
        .map_err(|_| AppError::not_found(&what))?;
    let versions = registry::newest_versions(&state.db, model.id, VERSIONS_LOOKED_UP).await?;
    // The newest version wins a URI registered twice.
    let mut version_of: HashMap<String, i64> = HashMap::new();
    for v in &versions {
        version_of.entry(v.source.clone()).or_insert(v.version);
    }
    let sources: Vec<String> = version_of.keys().cloned().collect();
    let rows = store::served(&state.db, &sources, SERVED_SHOWN).await?;
    let keys: Vec<ServiceKey> = rows
        .iter()
        .map(|r| (store::kind_of(&r.kind), r.namespace.clone(), r.name.clone()))
        .collect();
    let visible = visible(state, caller, keys.iter().map(|k| (k.0, k.1.as_str()))).await?;
    let times = rows
        .into_iter()
        .zip(keys)
        .filter(|(_, (kind, namespace, _))| visible[kind].contains(namespace))
        .map(|(row, (kind, namespace, name))| ServedTime {
            version: version_of.get(&row.model).copied(),
            model: row.model,
            kind,
            namespace,
            name,
            since: row.since,
            until: row.until,
        })
        .collect();
    Ok(WhereServed {
        model: model.name,
        namespace: model.namespace,
        times,
    })
}
