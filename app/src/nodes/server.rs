//! The nodes area's answers as the caller may see them (server only), shared by the server
//! functions, the JSON API and the live feeds: the table's page, the fleet's summary, one
//! node in full, and cordoning.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Event, Node};
use kube::api::{Api, ListParams, Patch, PatchParams};

use super::select::select;
use super::{
    GpuNodeRow, GpuPod, GpuSummary, NodeDetail, NodeEvent, NodeFilter, NodePage, PendingPod,
    PENDING_SHOWN,
};
use crate::auth::caller::Caller;
use crate::auth::rules::{Action, Principal};
use crate::error::AppError;
use crate::state::AppState;
use crate::time::{format_secs, format_unix};

/// Whether `principal` may see the inventory: Gantry lets every user view, and the
/// cluster's RBAC must let them list nodes (a SubjectAccessReview for the impersonated
/// user, cached 30 s).
pub async fn check_visible(state: &AppState, principal: &Principal) -> Result<(), AppError> {
    principal.check(Action::View, None)?;
    if state
        .cluster
        .allowed(principal, "list", ("", "nodes"), None)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "the cluster does not let you list nodes",
        ))
    }
}

/// Of `namespaces`, those whose pods `principal` may list, by Gantry's rules and the
/// cluster's: pods are shown by name only there.
pub async fn pod_namespaces<'a>(
    state: &AppState,
    principal: &Principal,
    namespaces: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeSet<String>, AppError> {
    state
        .cluster
        .namespaces_listing(principal, ("", "pods"), namespaces)
        .await
}

/// One page of the nodes table (the caller has checked [`check_visible`]).
pub fn page(state: &AppState, filter: &NodeFilter) -> Result<NodePage, AppError> {
    state.inventory.page(filter, || {
        // The lock is held only to take the rows (a count increment each): the search and
        // sort run after it is released, so a hostile search never delays the watches.
        let (rows, stale_since) = {
            let index = state.inventory.read()?;
            let rows: Vec<_> = index
                .rows
                .values()
                .map(|row| {
                    let labels = index.nodes.get(&row.name).map(|n| n.label_text.clone());
                    (row.clone(), labels)
                })
                .collect();
            (rows, index.stale_since())
        };
        let mut page = select(rows.iter().map(|(r, l)| (&**r, l.as_deref())), filter)?;
        page.stale_since = stale_since.map(format_unix);
        Ok(page)
    })
}

/// The fleet's totals and the pending GPU pods `principal` may see.
pub async fn summary(state: &AppState, principal: &Principal) -> Result<GpuSummary, AppError> {
    check_visible(state, principal).await?;
    // The index is read in one go and released before any access review is awaited.
    let (mut summary, mut waiting) = state.inventory.summary(|| {
        let index = state.inventory.read()?;
        let mut summary = GpuSummary::from_rows(index.rows.values().map(|r| &**r));
        summary.stale_since = index.stale_since().map(format_unix);
        let waiting: Vec<_> = index
            .pending
            .iter()
            .filter_map(|key| index.pods.get(key).cloned())
            .collect();
        Ok((summary, waiting))
    })?;
    let visible = pod_namespaces(
        state,
        principal,
        waiting.iter().map(|p| p.namespace.as_str()),
    )
    .await?;
    let before = waiting.len();
    waiting.retain(|p| visible.contains(&p.namespace));
    summary.pending_elsewhere = before - waiting.len();
    summary.pending_count = waiting.len();
    waiting.sort_by(|a, b| {
        (a.created, &a.namespace, &a.name).cmp(&(b.created, &b.namespace, &b.name))
    });
    summary.pending = waiting
        .into_iter()
        .take(PENDING_SHOWN)
        .map(|p| PendingPod {
            since: format_secs(p.created),
            namespace: p.namespace,
            name: p.name,
            owner: p.owner,
            gpus: p.gpus,
            reason: p.unschedulable.unwrap_or_default(),
        })
        .collect();
    Ok(summary)
}

/// One GPU node in full: its row, labels and taints from the index, the GPU pods in
/// namespaces whose pods the caller may list (others counted), and its events read as the
/// caller.
pub async fn detail(state: &AppState, caller: &Caller, name: &str) -> Result<NodeDetail, AppError> {
    crate::names::check_name("name", name)?;
    check_visible(state, caller).await?;
    let (row, info, pods, stale_since) = {
        let index = state.inventory.read()?;
        let row = index.rows.get(name).map(|r| GpuNodeRow::clone(r));
        let info = index.nodes.get(name).cloned();
        let pods: Vec<_> = index
            .pods_on(name)
            .filter(|p| p.gpu_total() > 0)
            .cloned()
            .collect();
        (row, info, pods, index.stale_since().map(format_unix))
    };
    let (Some(row), Some(info)) = (row, info) else {
        return Err(AppError::not_found(format!("GPU node {name:?}")));
    };
    let visible = pod_namespaces(state, caller, pods.iter().map(|p| p.namespace.as_str())).await?;
    let (shown, hidden): (Vec<_>, Vec<_>) = pods
        .into_iter()
        .partition(|p| visible.contains(&p.namespace));
    let client = state.cluster.as_user(caller)?;
    Ok(NodeDetail {
        row,
        labels: info.labels,
        taints: info.taints,
        hidden_pods: hidden.len(),
        hidden_gpus: hidden.iter().map(|p| p.gpu_total()).sum(),
        pods: shown
            .into_iter()
            .map(|p| GpuPod {
                namespace: p.namespace,
                name: p.name,
                owner: p.owner,
                gpus: p.gpus,
            })
            .collect(),
        events: node_events(client, name).await,
        stale_since,
    })
}

/// The node's events: read as the caller (Gantry does not cache events), from `default`,
/// where events about cluster-scoped objects are recorded; or why they could not be read.
async fn node_events(client: kube::Client, node: &str) -> Result<Vec<NodeEvent>, String> {
    let params = ListParams::default()
        .fields(&format!(
            "involvedObject.kind=Node,involvedObject.name={node}"
        ))
        .limit(100);
    let list = Api::<Event>::namespaced(client, "default")
        .list(&params)
        .await
        // The page shows the node without its events rather than failing whole.
        .map_err(|e| AppError::from_kube(e, "the node's events").to_string())?;
    let mut events: Vec<NodeEvent> = list
        .items
        .into_iter()
        .map(|e| {
            let last_seen = e
                .last_timestamp
                .map(|t| t.0)
                .or(e.event_time.map(|t| t.0))
                .or(e.metadata.creation_timestamp.map(|t| t.0));
            NodeEvent {
                kind: e.type_.unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
                count: e.count.unwrap_or(1),
                last_seen: last_seen.map(|t| t.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    events.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
    Ok(events)
}

/// Cordons (or uncordons) `node` as the caller (an ops admin; the cluster's RBAC decides
/// too), audited whatever the outcome.
pub async fn cordon(
    state: &AppState,
    caller: &Caller,
    node: &str,
    cordon: bool,
) -> Result<(), AppError> {
    caller.check(Action::OperateCluster, None)?;
    crate::names::check_name("node", node)?;
    let client = state.cluster.as_user(caller)?;
    let patch = serde_json::json!({ "spec": { "unschedulable": cordon } });
    let object = format!("node/{node}");
    let detail = format!("spec.unschedulable -> {cordon}");
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action: if cordon {
            "node.cordon"
        } else {
            "node.uncordon"
        },
        object: &object,
        detail: &detail,
    };
    let change = async {
        Api::<Node>::all(client)
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| AppError::from_kube(e, &format!("node {node:?}")))
    };
    crate::audit::around(&state.db, entry, change).await?
}
