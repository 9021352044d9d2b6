//! The Serving area's live feeds (server only): the list, and one service (its detail,
//! read again as the caller whenever the watches see a serving workload change).

use super::{server, ServiceDetail, ServiceKind, ServiceList};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::live::{changed, Feed};
use crate::state::AppState;

/// One page of the services list.
pub struct ServicesFeed {
    page: usize,
    last: Option<ServiceList>,
}

impl ServicesFeed {
    pub fn new(page: usize) -> Self {
        ServicesFeed { page, last: None }
    }
}

impl Feed for ServicesFeed {
    fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>> {
        vec![state.services.changes()]
    }

    async fn next(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<String>, AppError> {
        let now = server::list(state, caller, self.page).await?;
        Ok(changed(&mut self.last, now))
    }
}

/// One service's page. Pods and events of the service change its Deployment's status, which
/// the watch sees, so the detail is read again on the watches' ticks and when the history
/// gained rows; unchanged details are not sent.
pub struct ServiceFeed {
    kind: ServiceKind,
    namespace: String,
    name: String,
    last: Option<ServiceDetail>,
}

impl ServiceFeed {
    pub fn new(kind: ServiceKind, namespace: String, name: String) -> Self {
        ServiceFeed {
            kind,
            namespace,
            name,
            last: None,
        }
    }
}

impl Feed for ServiceFeed {
    fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>> {
        vec![state.services.changes(), state.services.history_changes()]
    }

    async fn next(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<String>, AppError> {
        caller.check(Action::View, Some(&self.namespace))?;
        let now = server::detail(state, caller, self.kind, &self.namespace, &self.name).await?;
        Ok(changed(&mut self.last, now))
    }
}
