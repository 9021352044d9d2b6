//! The live transport: changes pushed to open pages with server-sent events. Transport only:
//! each area owns its feeds (`<area>/stream.rs`) and this module knows none of them.
//!
//! On the server, a [`Feed`] says what it wakes on and computes its next message; [`serve`]
//! sends the first message at once (or refuses with the error's own status), then one after
//! each change that alters what the feed shows, coalescing changes over [`COALESCE`]. Streams
//! that are not change-driven (a pod's log) hand their messages to [`sse`], which gives every
//! stream the same lifetime, shutdown and keep-alive. Every message is a JSON
//! `Result<_, AppError>`; after an error the stream ends.
//!
//! A stream ends after [`STREAM_LIFETIME`] and the browser reconnects on its own, through the
//! login check again, so a page left open cannot outlive its session; it also ends when the
//! caller's access is withdrawn and when the server shuts down.
//!
//! In the browser, [`subscribe`] follows a stream of `T` into a callback, reopening it when
//! its URL changes and closing it with the page.

use leptos::prelude::*;
use serde::de::DeserializeOwned;

use crate::error::AppError;

#[cfg(feature = "ssr")]
pub use server::{changed, message, serve, sse, Feed, COALESCE, RECHECK, STREAM_LIFETIME};

#[cfg(feature = "ssr")]
mod server {
    use std::convert::Infallible;
    use std::future::Future;
    use std::time::Duration;

    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::{IntoResponse, Response};
    use futures::{Stream, StreamExt};
    use serde::Serialize;
    use tokio::time::Instant;

    use crate::auth::caller::Caller;
    use crate::error::AppError;
    use crate::state::AppState;

    /// Changes arriving within this window go out as one message: at scale the watches
    /// deliver thousands of events a second, and a page needs at most a few updates.
    pub const COALESCE: Duration = Duration::from_millis(100);
    /// How long one connection lasts before the browser reconnects.
    pub const STREAM_LIFETIME: Duration = Duration::from_secs(300);
    /// How often an open stream checks that its caller would still be let in (session or
    /// token live, account enabled, same role and namespaces): a logout, a revocation or a
    /// change of role ends it within this long.
    pub const RECHECK: Duration = Duration::from_secs(15);

    /// What one open page follows: a list, a summary, one object.
    pub trait Feed: Send + 'static {
        /// The ticks that may change what the feed shows (the caches' change counters).
        fn wakes_on(&self, state: &AppState) -> Vec<tokio::sync::watch::Receiver<u64>>;

        /// The next message (see [`message`], [`changed`]), or `None` when nothing the feed
        /// shows has changed since the last one. An error ends the stream; on the first call
        /// it refuses the stream with its status (401, 403, 503) before anything is sent.
        fn next(
            &mut self,
            state: &AppState,
            caller: &Caller,
        ) -> impl Future<Output = Result<Option<String>, AppError>> + Send;
    }

    /// A message: `value` as JSON, `Ok`.
    pub fn message(value: &impl Serialize) -> String {
        encode(&Ok::<_, AppError>(value))
    }

    /// The message for `now` when it differs from what was sent last (kept in `last`).
    pub fn changed<T: Serialize + PartialEq>(last: &mut Option<T>, now: T) -> Option<String> {
        if last.as_ref() == Some(&now) {
            return None;
        }
        let text = message(&now);
        *last = Some(now);
        Some(text)
    }

    fn encode(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap_or_else(|e| {
            encode(&Err::<(), _>(AppError::internal(
                "encoding a live update",
                e,
            )))
        })
    }

    /// Serves `feed` to `caller` as server-sent events (see the module's documentation).
    pub async fn serve(mut feed: impl Feed, state: AppState, caller: Caller) -> Response {
        let caller_for_checks = caller.clone();
        // Refuse before streaming, with the error's own status.
        let first = match feed.next(&state, &caller).await {
            Ok(first) => first,
            Err(error) => return error.into_response(),
        };
        let mut changes = feed.wakes_on(&state);
        for receiver in &mut changes {
            receiver.borrow_and_update();
        }
        let opening = futures::stream::iter(first.map(Ok));
        let later = futures::stream::unfold(
            (feed, state.clone(), caller, changes, false),
            |(mut feed, state, caller, mut changes, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let any_change = futures::future::select_all(
                        changes.iter_mut().map(|r| Box::pin(r.changed())),
                    );
                    any_change.await.0.ok()?;
                    tokio::time::sleep(COALESCE).await;
                    for receiver in &mut changes {
                        receiver.borrow_and_update();
                    }
                    match feed.next(&state, &caller).await {
                        Ok(None) => continue,
                        Ok(Some(text)) => {
                            return Some((Ok(text), (feed, state, caller, changes, false)))
                        }
                        // Withdrawn access or a cache gone: say so, and stop.
                        Err(error) => {
                            return Some((Err(error), (feed, state, caller, changes, true)))
                        }
                    }
                }
            },
        );
        sse(
            &state,
            &caller_for_checks,
            STREAM_LIFETIME,
            opening.chain(later),
        )
        .await
    }

    /// Sends `messages` (text already encoded, or an error) to `caller` as server-sent
    /// events, until `lifetime` is over (then the browser reconnects), the caller would no
    /// longer be let in (checked every [`RECHECK`]) or the server shuts down. Refused with
    /// 429 when the caller, or everyone, holds as many streams as allowed.
    pub async fn sse(
        state: &AppState,
        caller: &Caller,
        lifetime: Duration,
        messages: impl Stream<Item = Result<String, AppError>> + Send + 'static,
    ) -> Response {
        let place = match state.streams.take(&caller.username) {
            Ok(place) => place,
            Err(full) => {
                let reason = match full {
                    crate::caps::Full::Key(cap) => format!(
                        "you have {cap} live streams open (pages or API clients); close one"
                    ),
                    crate::caps::Full::All(cap) => format!(
                        "Gantry serves {cap} live streams, its limit; try again in a minute"
                    ),
                };
                return AppError::TooMany { reason }.into_response();
            }
        };
        let still_in = {
            let (state, caller) = (state.clone(), caller.clone());
            async move {
                loop {
                    tokio::time::sleep(RECHECK).await;
                    if !crate::auth::layer::still_valid(&state, &caller).await {
                        return;
                    }
                }
            }
        };
        let mut stopping = state.stopping.subscribe();
        let until = Instant::now() + lifetime;
        let mut first = true;
        let events = messages
            .map(move |item| {
                let data = match item {
                    Ok(text) => text,
                    Err(error) => encode(&Err::<(), _>(error)),
                };
                let event = Event::default().data(data);
                if std::mem::take(&mut first) {
                    // Reconnect a second after the stream ends (see STREAM_LIFETIME).
                    Ok::<_, Infallible>(event.retry(Duration::from_secs(1)))
                } else {
                    Ok(event)
                }
            })
            .take_until(async move {
                tokio::select! {
                    _ = stopping.wait_for(|stopping| *stopping) => {},
                    _ = tokio::time::sleep_until(until) => {},
                    _ = still_in => {},
                }
                // The place is given back when the stream ends.
                drop(place);
            });
        Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response()
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
/// when the page goes), handing each message's text to `on_message` and the connection's
/// state to `connection`. On the server it does nothing: pages render "Loading…" until
/// hydrated.
fn follow(
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

/// In the browser: follows the stream of `T` at `url()` (see [`follow`]), handing each
/// message to `on_message`, decoded; a message that cannot be decoded arrives as an error.
pub fn subscribe<T: DeserializeOwned + 'static>(
    url: impl Fn() -> String + 'static,
    on_message: impl Fn(Result<T, AppError>) + Clone + 'static,
    connection: RwSignal<Connection>,
) {
    follow(
        url,
        move |text| {
            on_message(
                serde_json::from_str::<Result<T, AppError>>(&text).unwrap_or_else(|e| {
                    Err(AppError::Transport {
                        reason: format!("unreadable update: {e}"),
                    })
                }),
            )
        },
        connection,
    )
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
