//! The jobs area's live feeds (server only): the jobs list, and one job (its detail, sent
//! again whenever what the caches hold of it changes).

use super::info::JobInfo;
use super::{server, JobDetail, JobFilter, JobList};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::live::{changed, Feed};
use crate::state::AppState;

/// The jobs list for one set of filters. It wakes on the Job and Kubeflow watches and on
/// the inventory's pods of Jobs (which make a Job running, or give a pending one its
/// reason), not on every change of every node and pod.
pub struct JobsFeed {
    filter: JobFilter,
    last: Option<JobList>,
}

impl JobsFeed {
    pub fn new(filter: JobFilter) -> Self {
        JobsFeed { filter, last: None }
    }
}

impl Feed for JobsFeed {
    fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>> {
        vec![state.jobs.changes(), state.inventory.job_pod_changes()]
    }

    async fn next(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<String>, AppError> {
        let now = server::list_page(state, caller, &self.filter).await?;
        Ok(changed(&mut self.last, now))
    }
}

/// What the caches hold of one job: the Job, whether a pod of it runs, and the scheduler's
/// reason while one waits.
type Seen = (Option<JobInfo>, bool, Option<String>);

/// One job's page. Its detail (read from the API server as the caller: the Job, its pods,
/// their events) is read again only when the Job in the watch, or its pods in the inventory,
/// changed: not on every change of every job.
pub struct JobFeed {
    namespace: String,
    name: String,
    seen: Option<Seen>,
    last: Option<JobDetail>,
}

impl JobFeed {
    pub fn new(namespace: String, name: String) -> Self {
        JobFeed {
            namespace,
            name,
            seen: None,
            last: None,
        }
    }

    /// What the caches hold of the job (a cache still loading holds nothing yet: the detail
    /// is read from the API server all the same).
    fn seen(&self, state: &AppState) -> Seen {
        let key = (self.namespace.clone(), self.name.clone());
        let job = state
            .jobs
            .read()
            .ok()
            .and_then(|jobs| jobs.get(&key).cloned());
        let pending = server::PodsSeen::pending(job.iter());
        let (running, waiting) = server::PodsSeen::of(state, &pending).of_job(&key);
        (job, running, waiting)
    }
}

impl Feed for JobFeed {
    fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>> {
        vec![state.jobs.changes(), state.inventory.job_pod_changes()]
    }

    async fn next(
        &mut self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<Option<String>, AppError> {
        caller.check(Action::View, Some(&self.namespace))?;
        let seen = self.seen(state);
        if self.seen.as_ref() == Some(&seen) {
            return Ok(None);
        }
        self.seen = Some(seen);
        let now = server::detail(state, caller, &self.namespace, &self.name).await?;
        Ok(changed(&mut self.last, now))
    }
}
