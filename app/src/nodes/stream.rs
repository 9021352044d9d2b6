//! The nodes area's live feeds (server only): the table (a snapshot, then deltas with only
//! the rows that changed), the overview's summary, and one node (its detail, sent again
//! whenever what the index holds of it changes).

use std::sync::Arc;

use super::{
    server, GpuNodeRow, GpuSummary, NodeDetail, NodeFilter, NodePage, PageDelta, PageUpdate,
};
use crate::auth::caller::Caller;
use crate::error::AppError;
use crate::live::{changed, message, Feed};
use crate::state::AppState;

/// The nodes table for one set of filters.
pub struct NodesFeed {
    filter: NodeFilter,
    last: Option<NodePage>,
}

impl NodesFeed {
    pub fn new(filter: NodeFilter) -> Self {
        NodesFeed { filter, last: None }
    }
}

impl Feed for NodesFeed {
    fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>> {
        vec![state.inventory.changes()]
    }

    async fn next(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<String>, AppError> {
        server::check_visible(state, caller).await?;
        let now = server::page(state, &self.filter)?;
        let update = match self.last.as_ref() {
            None => Some(PageUpdate::Snapshot(now.clone())),
            Some(before) => PageDelta::between(before, &now).map(PageUpdate::Delta),
        };
        self.last = Some(now);
        Ok(update.map(|u| message(&u)))
    }
}

/// The overview's totals and pending pods.
#[derive(Default)]
pub struct SummaryFeed {
    last: Option<GpuSummary>,
}

impl Feed for SummaryFeed {
    fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>> {
        vec![state.inventory.changes()]
    }

    async fn next(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<String>, AppError> {
        let now = server::summary(state, caller).await?;
        Ok(changed(&mut self.last, now))
    }
}

/// What the index holds of one node: its row, its GPU pods, and since when it is stale.
type Seen = (Option<Arc<GpuNodeRow>>, Vec<(String, String)>, Option<u64>);

/// One node's page: its detail (which reads the node's events from the API server) is
/// computed again only when the node's row, or the GPU pods bound to it, changed in the
/// index, not on every change of the fleet.
pub struct NodeFeed {
    name: String,
    seen: Option<Seen>,
    last: Option<NodeDetail>,
}

impl NodeFeed {
    pub fn new(name: String) -> Self {
        NodeFeed {
            name,
            seen: None,
            last: None,
        }
    }
}

impl Feed for NodeFeed {
    fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>> {
        vec![state.inventory.changes()]
    }

    async fn next(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<String>, AppError> {
        crate::names::check_name("name", &self.name)?;
        let seen = {
            let index = state.inventory.read()?;
            let pods = index
                .pods_on(&self.name)
                .filter(|p| p.gpu_total() > 0)
                .map(|p| (p.namespace.clone(), p.name.clone()))
                .collect();
            (
                index.rows.get(&self.name).cloned(),
                pods,
                index.stale_since(),
            )
        };
        if self.seen.as_ref() == Some(&seen) {
            // Access is still checked on every message, as on every other feed.
            server::check_visible(state, caller).await?;
            return Ok(None);
        }
        self.seen = Some(seen);
        let now = server::detail(state, caller, &self.name).await?;
        Ok(changed(&mut self.last, now))
    }
}
