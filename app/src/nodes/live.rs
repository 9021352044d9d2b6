//! Changes pushed to open pages with server-sent events.
//!
//! `GET /api/v1/gpu-nodes/stream?<filters>` sends the table's page as a snapshot, then, after
//! each change to the index (coalesced over [`COALESCE`]), a delta: the page's order and
//! only the rows that changed. `GET /api/v1/gpu-summary/stream` sends the overview's summary
//! whenever it changes (it is small). Every message is a JSON `Result<_, AppError>`.
//!
//! A stream ends after [`STREAM_LIFETIME`] and the browser reconnects on its own, through the
//! login check again, so a page left open cannot outlive its session; it also ends when the
//! caller's access is withdrawn and when the server shuts down.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{GpuNodeRow, NodePage};

/// What the nodes stream sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageUpdate {
    /// The whole page, first thing on each connection.
    Snapshot(NodePage),
    /// What changed since the previous message.
    Delta(PageDelta),
}

/// The page after a change, without the rows the client already has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageDelta {
    pub matching: usize,
    /// The page's node names, in order.
    pub order: Vec<String>,
    /// Rows that are new on the page or changed.
    pub rows: Vec<GpuNodeRow>,
    /// The model list, when it changed.
    pub models: Option<Vec<String>>,
    pub stale_since: Option<String>,
}

impl PageDelta {
    /// The delta from `before` to `after`; `None` when nothing changed.
    pub fn between(before: &NodePage, after: &NodePage) -> Option<PageDelta> {
        if before == after {
            return None;
        }
        let known: HashMap<&str, &GpuNodeRow> =
            before.rows.iter().map(|r| (r.name.as_str(), r)).collect();
        Some(PageDelta {
            matching: after.matching,
            order: after.rows.iter().map(|r| r.name.clone()).collect(),
            rows: after
                .rows
                .iter()
                .filter(|r| known.get(r.name.as_str()) != Some(r))
                .cloned()
                .collect(),
            models: (before.models != after.models).then(|| after.models.clone()),
            stale_since: after.stale_since.clone(),
        })
    }

    /// Applies the delta to the page the client holds.
    pub fn apply(self, page: &mut NodePage) {
        let mut rows: HashMap<String, GpuNodeRow> = std::mem::take(&mut page.rows)
            .into_iter()
            .chain(self.rows)
            .map(|r| (r.name.clone(), r))
            .collect();
        page.rows = self
            .order
            .iter()
            .filter_map(|name| rows.remove(name))
            .collect();
        page.matching = self.matching;
        if let Some(models) = self.models {
            page.models = models;
        }
        page.stale_since = self.stale_since;
    }
}

#[cfg(feature = "ssr")]
pub use server::{gpu_nodes_stream, gpu_summary_stream};

#[cfg(feature = "ssr")]
mod server {
    use std::convert::Infallible;
    use std::time::Duration;

    use axum::extract::{Query, State};
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::{IntoResponse, Response};
    use axum::Extension;
    use futures::Stream;
    use serde::Serialize;
    use tokio::time::Instant;

    use super::{PageDelta, PageUpdate};
    use crate::auth::rules::Principal;
    use crate::auth::server::Authenticated;
    use crate::error::AppError;
    use crate::nodes::answers::{check_visible, page, summary};
    use crate::nodes::{GpuSummary, NodeFilter, NodePage};
    use crate::state::AppState;

    /// Changes arriving within this window go out as one message: at scale the watches
    /// deliver thousands of events a second, and a page needs at most a few updates.
    pub const COALESCE: Duration = Duration::from_millis(100);
    /// How long one connection lasts before the browser reconnects.
    pub const STREAM_LIFETIME: Duration = Duration::from_secs(300);

    /// What one connection follows, with what it sent last.
    enum Feed {
        Nodes {
            filter: NodeFilter,
            last: Option<NodePage>,
        },
        Summary {
            last: Option<GpuSummary>,
        },
    }

    impl Feed {
        /// The next message, or `None` when nothing this feed shows has changed.
        async fn next(
            &mut self,
            state: &AppState,
            principal: &Principal,
        ) -> Result<Option<String>, AppError> {
            match self {
                Feed::Nodes { filter, last } => {
                    check_visible(state, principal).await?;
                    let now = page(state, filter)?;
                    let update = match last.as_ref() {
                        None => Some(PageUpdate::Snapshot(now.clone())),
                        Some(before) => PageDelta::between(before, &now).map(PageUpdate::Delta),
                    };
                    *last = Some(now);
                    Ok(update.map(|u| json(&Ok::<_, AppError>(u))))
                }
                Feed::Summary { last } => {
                    let now = summary(state, principal).await?;
                    if last.as_ref() == Some(&now) {
                        return Ok(None);
                    }
                    let message = json(&Ok::<_, AppError>(&now));
                    *last = Some(now);
                    Ok(Some(message))
                }
            }
        }
    }

    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap_or_else(|e| {
            json(&Err::<(), _>(AppError::internal(
                "encoding a live update",
                e,
            )))
        })
    }

    struct Connection {
        feed: Feed,
        state: AppState,
        principal: Principal,
        changes: tokio::sync::watch::Receiver<u64>,
        stopping: tokio::sync::watch::Receiver<bool>,
        until: Instant,
        first: bool,
        done: bool,
    }

    /// The connection's next event: the first message at once, then one per change that
    /// altered what it shows; `None` ends the stream.
    async fn next_event(mut c: Connection) -> Option<(Result<Event, Infallible>, Connection)> {
        if c.done {
            return None;
        }
        loop {
            if !c.first {
                tokio::select! {
                    changed = c.changes.changed() => changed.ok()?,
                    _ = c.stopping.wait_for(|stopping| *stopping) => return None,
                    _ = tokio::time::sleep_until(c.until) => return None,
                }
                tokio::time::sleep(COALESCE).await;
                c.changes.borrow_and_update();
            }
            let event = match c.feed.next(&c.state, &c.principal).await {
                Ok(None) => continue,
                Ok(Some(message)) => Event::default().data(message),
                Err(error) => {
                    // Withdrawn access or a cache gone: say so, and stop.
                    c.done = true;
                    Event::default().data(json(&Err::<(), _>(error)))
                }
            };
            let event = if c.first {
                // Reconnect a second after the stream ends (see STREAM_LIFETIME).
                event.retry(Duration::from_secs(1))
            } else {
                event
            };
            c.first = false;
            return Some((Ok(event), c));
        }
    }

    async fn open(state: AppState, who: Option<Extension<Authenticated>>, feed: Feed) -> Response {
        let Some(Extension(who)) = who else {
            return AppError::Unauthenticated.into_response();
        };
        // Refuse before streaming, with the error's own status.
        if let Err(e) = check_visible(&state, &who.principal).await {
            return e.into_response();
        }
        let connection = Connection {
            feed,
            changes: state.inventory.changes(),
            stopping: state.stopping.subscribe(),
            state,
            principal: who.principal,
            until: Instant::now() + STREAM_LIFETIME,
            first: true,
            done: false,
        };
        stream(connection).into_response()
    }

    fn stream(
        connection: Connection,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static> {
        Sse::new(futures::stream::unfold(connection, next_event)).keep_alive(KeepAlive::default())
    }

    /// `GET /api/v1/gpu-nodes/stream`, with the table's filters as query parameters.
    pub async fn gpu_nodes_stream(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Query(filter): Query<NodeFilter>,
    ) -> Response {
        open(state, who, Feed::Nodes { filter, last: None }).await
    }

    /// `GET /api/v1/gpu-summary/stream`.
    pub async fn gpu_summary_stream(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
    ) -> Response {
        open(state, who, Feed::Summary { last: None }).await
    }
}

/// An open `EventSource` in the browser; closed when dropped.
#[cfg(feature = "hydrate")]
pub struct LiveStream {
    source: web_sys::EventSource,
    _on_message: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>,
    _on_open: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>,
}

/// Where a page's stream stands, for the badge beside its title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// The browser retries on its own (the stream ended, or the network blinked).
    Reconnecting,
    /// Refused (e.g. the session ended): only a reload helps.
    Closed,
}

#[cfg(feature = "hydrate")]
impl LiveStream {
    /// Opens `url` and calls `on_message` with each message's text.
    pub fn open(
        url: &str,
        mut on_message: impl FnMut(String) + 'static,
        on_state: impl Fn(Connection) + Clone + 'static,
    ) -> Option<LiveStream> {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        let source = web_sys::EventSource::new(url).ok()?;
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    on_message(text);
                }
            },
        );
        let state = on_state.clone();
        let watched = source.clone();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            state(if watched.ready_state() == web_sys::EventSource::CLOSED {
                Connection::Closed
            } else {
                Connection::Reconnecting
            })
        });
        let on_open =
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_state(Connection::Live));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        Some(LiveStream {
            source,
            _on_message: on_message,
            _on_error: on_error,
            _on_open: on_open,
        })
    }
}

#[cfg(feature = "hydrate")]
impl Drop for LiveStream {
    fn drop(&mut self) {
        self.source.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::NodeHealth;

    fn row(name: &str, free: i64) -> GpuNodeRow {
        GpuNodeRow {
            name: name.into(),
            model: "H100".into(),
            family: None,
            gpu_memory_mib: None,
            physical_gpus: Some(8),
            replicas: None,
            allocatable: 8,
            allocated: 8 - free,
            free,
            resources: Default::default(),
            cpu_millis: (0, 0),
            memory_bytes: (0, 0),
            health: NodeHealth {
                ready: true,
                cordoned: false,
                pressure: vec![],
            },
        }
    }

    fn page(rows: Vec<GpuNodeRow>) -> NodePage {
        NodePage {
            matching: rows.len(),
            rows,
            page: 0,
            models: vec!["H100".into()],
            stale_since: None,
        }
    }

    #[test]
    fn a_delta_carries_only_changed_rows_and_rebuilds_the_page() {
        let before = page(vec![row("a", 8), row("b", 8), row("c", 8)]);
        let after = page(vec![row("a", 8), row("c", 4), row("d", 8)]);
        assert_eq!(PageDelta::between(&before, &before), None);
        let delta = PageDelta::between(&before, &after).unwrap();
        let sent: Vec<_> = delta.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(sent, ["c", "d"]);
        assert_eq!(delta.models, None);
        let mut held = before;
        delta.apply(&mut held);
        assert_eq!(held, after);
    }
}
