//! One way to follow a watch, with one failure policy, for every cache (server only).
//!
//! [`follow`] LISTs, then WATCHes for ever, handing each change to a [`Follower`]: the whole
//! listing once it is complete, then each object as it is applied or deleted. Objects are
//! converted on arrival (`convert`), so a cache holds only what it reads, even while a LIST of
//! 50,000 pods is under way.
//!
//! The policy, the same for nodes, pods, Jobs and Kubeflow's kinds: when the watch fails (API
//! server down, network gone, a 410 past the bookmark), the follower hears [`Change::Stale`]
//! once with the time of the first failure and keeps serving what it has; the watch restarts
//! after a backoff (0.5 s, doubling to 30 s) with a fresh LIST, whose [`Change::Listed`]
//! replaces the state, and after which the backoff starts again from 0.5 s.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Each watch is closed by the API server after this long and opened again from where it
/// was (no new LIST): a healthy watch so hears from the server at least this often, and a
/// silent one (the server stopped, the network gone) fails within the client's read deadline
/// ([`crate::cluster::REQUEST_TIMEOUT`]) on top, and the cache is marked stale.
pub const WATCH_SECS: u32 = 8;

/// The first and the longest pause before a failed watch is started again.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));

/// What a follower hears, with objects already converted.
#[derive(Debug)]
pub enum Change<T> {
    /// A complete LIST: everything there is, replacing what was held; the state is current
    /// again.
    Listed(Vec<T>),
    /// An object created or changed.
    Applied(T),
    /// An object deleted (its last state).
    Deleted(T),
    /// The watch failed at this time (seconds since the epoch); what is held is the last
    /// known state until the next `Listed`. Sent once per outage.
    Stale(u64),
}

/// A cache fed by [`follow`].
pub trait Follower<T>: Send {
    fn apply(&mut self, change: Change<T>) -> impl Future<Output = ()> + Send;
}

/// Follows `api` for ever (see the module's documentation); `what` names it in the log.
pub async fn follow<K, T>(
    what: &str,
    api: Api<K>,
    config: watcher::Config,
    convert: impl Fn(K) -> T + Send,
    mut follower: impl Follower<T>,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    T: Send,
{
    let config = config.timeout(WATCH_SECS);
    let mut backoff = BACKOFF.0;
    let mut stale = false;
    loop {
        let mut events = std::pin::pin!(watcher::watcher(api.clone(), config.clone()));
        let mut listing = Vec::new();
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Init) => listing.clear(),
                Ok(Event::InitApply(object)) => listing.push(convert(object)),
                Ok(Event::InitDone) => {
                    follower
                        .apply(Change::Listed(std::mem::take(&mut listing)))
                        .await;
                    if stale {
                        tracing::info!(what, "watch back; state replaced by a fresh list");
                    }
                    stale = false;
                    backoff = BACKOFF.0;
                }
                Ok(Event::Apply(object)) => follower.apply(Change::Applied(convert(object))).await,
                Ok(Event::Delete(object)) => follower.apply(Change::Deleted(convert(object))).await,
                Err(error) => {
                    tracing::warn!(what, %error, ?backoff, "watch failed; serving the last state");
                    if !stale {
                        stale = true;
                        follower.apply(Change::Stale(crate::time::unix_now())).await;
                    }
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// Since when each of several watches feeding one cache is failing: what the cache shows as
/// "stale since" (the earliest). Cheap to clone; clones share the marks.
#[derive(Clone, Default)]
pub struct StaleMarks(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>);

impl StaleMarks {
    /// Marks `watch` failing since `since`, or current again with `None`; whether that
    /// changed anything.
    pub fn set(&self, watch: &str, since: Option<u64>) -> bool {
        let mut marks = crate::locks::lock(&self.0);
        match since {
            Some(since) if !marks.contains_key(watch) => {
                marks.insert(watch.to_string(), since);
                true
            }
            Some(_) => false,
            None => marks.remove(watch).is_some(),
        }
    }

    /// The earliest failure among the watches, if any is failing.
    pub fn since(&self) -> Option<u64> {
        crate::locks::lock(&self.0).values().min().copied()
    }
}
