//! Changes pushed to open pages with server-sent events, shared by every live page.
//!
//! A feed sends its first message at once, then one after each change that alters what it
//! shows (changes are coalesced over [`COALESCE`]): the GPU nodes table
//! (`GET /api/v1/gpu-nodes/stream`, a snapshot then deltas, see `nodes::PageDelta`), the
//! overview's summary (`GET /api/v1/gpu-summary/stream`) and the jobs list
//! (`GET /api/v1/jobs/stream`). Every message is a JSON `Result<_, AppError>`.
//!
//! A stream ends after [`STREAM_LIFETIME`] and the browser reconnects on its own, through the
//! login check again, so a page left open cannot outlive its session; it also ends when the
//! caller's access is withdrawn and when the server shuts down.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub use server::{gpu_nodes_stream, gpu_summary_stream, jobs_stream};

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

    use crate::auth::rules::Principal;
    use crate::auth::server::Authenticated;
    use crate::error::AppError;
    use crate::jobs::{JobFilter, JobRow};
    use crate::nodes::answers::{check_visible, page, summary};
    use crate::nodes::{GpuSummary, NodeFilter, NodePage, PageDelta, PageUpdate};
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
        Jobs {
            filter: JobFilter,
            last: Option<Vec<JobRow>>,
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
                    Ok(changed(last, now))
                }
                Feed::Jobs { filter, last } => {
                    let now = crate::jobs::server::list(state, principal, filter).await?;
                    Ok(changed(last, now))
                }
            }
        }
    }

    /// The whole of `now` when it differs from what was sent last.
    fn changed<T: Serialize + PartialEq>(last: &mut Option<T>, now: T) -> Option<String> {
        if last.as_ref() == Some(&now) {
            return None;
        }
        let message = json(&Ok::<_, AppError>(&now));
        *last = Some(now);
        Some(message)
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
        /// What the feed depends on; any tick re-evaluates it.
        changes: Vec<tokio::sync::watch::Receiver<u64>>,
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
                let any_change = futures::future::select_all(
                    c.changes.iter_mut().map(|r| Box::pin(r.changed())),
                );
                tokio::select! {
                    (changed, _, _) = any_change => changed.ok()?,
                    _ = c.stopping.wait_for(|stopping| *stopping) => return None,
                    _ = tokio::time::sleep_until(c.until) => return None,
                }
                tokio::time::sleep(COALESCE).await;
                for changes in &mut c.changes {
                    changes.borrow_and_update();
                }
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
        let allowed = match &feed {
            Feed::Jobs { .. } => who.principal.check(crate::auth::rules::Action::View, None),
            _ => check_visible(&state, &who.principal).await,
        };
        if let Err(e) = allowed {
            return e.into_response();
        }
        let mut changes = vec![state.inventory.changes()];
        if let Feed::Jobs { .. } = feed {
            changes.push(state.jobs.changes());
        }
        let connection = Connection {
            feed,
            changes,
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

    /// `GET /api/v1/jobs/stream`, with the jobs list's filters as query parameters.
    pub async fn jobs_stream(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Query(filter): Query<JobFilter>,
    ) -> Response {
        open(state, who, Feed::Jobs { filter, last: None }).await
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

/// In the browser: follows the stream at `url()` (reopened when the URL changes, closed
/// when the page goes), handing each message to `on_message` and the connection's state to
/// `connection`. On the server it does nothing: pages render "Loading…" until hydrated.
pub fn follow(
    url: impl Fn() -> String + 'static,
    on_message: impl Fn(String) + Clone + 'static,
    connection: RwSignal<Connection>,
) {
    #[cfg(feature = "hydrate")]
    {
        let stream = StoredValue::new_local(None::<LiveStream>);
        Effect::new(move |_| {
            let url = url();
            // Dropping the previous stream closes it.
            stream.set_value(None);
            connection.set(Connection::Connecting);
            stream.set_value(LiveStream::open(&url, on_message.clone(), move |state| {
                connection.set(state)
            }));
        });
        on_cleanup(move || stream.set_value(None));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, on_message, connection);
}

/// "live" while the stream is open, otherwise what it is doing.
#[component]
pub fn LiveBadge(connection: RwSignal<Connection>) -> impl IntoView {
    let text = move || match connection.get() {
        Connection::Connecting => "connecting…",
        Connection::Live => "live",
        Connection::Reconnecting => "reconnecting…",
        Connection::Closed => "updates stopped: reload the page",
    };
    view! {
        <span
            class="live-badge"
            data-state=move || format!("{:?}", connection.get()).to_lowercase()
            data-testid="live-badge"
            role="status"
        >
            {text}
        </span>
    }
}
