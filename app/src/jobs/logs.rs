//! A job's logs, streamed as the user: server-sent events with one line each, from one pod
//! or all of them interleaved (`follow` with a tail), and the whole log as a download.
//!
//! The page keeps at most [`KEPT_LINES`] lines, however long the log: older ones drop off
//! the top, and the download has everything.

use serde::{Deserialize, Serialize};

/// Lines a page keeps in memory.
pub const KEPT_LINES: usize = 5_000;

/// One log line and the pod it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub pod: String,
    pub line: String,
}

/// Which log: `pod` empty for all pods of the job; `container` empty for the first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogQuery {
    pub pod: String,
    pub container: String,
    /// Lines from the end to start with (default 500).
    pub tail: Option<i64>,
}

#[cfg(feature = "ssr")]
pub use server::{download, stream};

#[cfg(feature = "ssr")]
mod server {
    use std::convert::Infallible;
    use std::time::Duration;

    use axum::extract::{Path, Query, State};
    use axum::http::header;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::{IntoResponse, Response};
    use axum::Extension;
    use futures::{AsyncBufReadExt, StreamExt};
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams, LogParams};

    use super::{LogLine, LogQuery};
    use crate::auth::rules::Action;
    use crate::auth::server::Authenticated;
    use crate::error::AppError;
    use crate::state::AppState;

    /// A log stream ends after this long; the page reconnects with a fresh tail.
    const STREAM_LIFETIME: Duration = Duration::from_secs(1800);

    /// The pods to read: the named one (if it belongs to the job) or all of the job's.
    async fn pods(
        state: &AppState,
        who: Option<Extension<Authenticated>>,
        namespace: &str,
        job: &str,
        query: &LogQuery,
    ) -> Result<(Api<Pod>, Vec<String>), AppError> {
        let Some(Extension(who)) = who else {
            return Err(AppError::Unauthenticated);
        };
        who.principal.check(Action::View, Some(namespace))?;
        let client = state
            .cluster
            .client_as(&who.principal, &state.auth.impersonate_groups)?;
        let api: Api<Pod> = Api::namespaced(client, namespace);
        let list = api
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code == 403 => {
                    AppError::forbidden(format!("the cluster refused: {}", s.message))
                }
                other => AppError::unavailable("Kubernetes", other.to_string()),
            })?;
        let mut names: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        names.sort();
        if !query.pod.is_empty() {
            if !names.contains(&query.pod) {
                return Err(AppError::not_found(format!(
                    "pod {:?} of job {job}",
                    query.pod
                )));
            }
            names = vec![query.pod.clone()];
        }
        Ok((api, names))
    }

    fn params(query: &LogQuery, follow: bool) -> LogParams {
        LogParams {
            follow,
            tail_lines: follow.then(|| query.tail.unwrap_or(500).clamp(0, 10_000)),
            container: (!query.container.is_empty()).then(|| query.container.clone()),
            ..Default::default()
        }
    }

    /// `GET /api/v1/jobs/{namespace}/{name}/logs`: server-sent events, each a JSON
    /// [`LogLine`] (or an `AppError`, after which the stream ends).
    pub async fn stream(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Path((namespace, job)): Path<(String, String)>,
        Query(query): Query<LogQuery>,
    ) -> Response {
        let (api, names) = match pods(&state, who, &namespace, &job, &query).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        };
        let mut streams = Vec::new();
        for pod in names {
            let lines = match api.log_stream(&pod, &params(&query, true)).await {
                Ok(reader) => reader.lines().boxed(),
                // A pod not started yet has no log: say so in its place.
                Err(e) => {
                    futures::stream::once(async move { Ok(format!("(no log yet: {e})")) }).boxed()
                }
            };
            streams.push(lines.map(move |line| (pod.clone(), line)));
        }
        let mut stopping = state.stopping.subscribe();
        let until = tokio::time::Instant::now() + STREAM_LIFETIME;
        let events = futures::stream::select_all(streams)
            .map(|(pod, line)| {
                let message = match line {
                    Ok(line) => serde_json::to_string(&Ok::<_, AppError>(LogLine { pod, line })),
                    Err(e) => serde_json::to_string(&Err::<LogLine, _>(AppError::unavailable(
                        "Kubernetes",
                        e.to_string(),
                    ))),
                };
                Ok::<_, Infallible>(Event::default().data(message.unwrap_or_default()))
            })
            .take_until(async move {
                tokio::select! {
                    _ = stopping.wait_for(|s| *s) => {},
                    _ = tokio::time::sleep_until(until) => {},
                }
            });
        Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response()
    }

    /// `GET /api/v1/jobs/{namespace}/{name}/logs.txt?pod=&container=`: the whole log of one pod
    /// (or of each pod in turn) as a file.
    pub async fn download(
        State(state): State<AppState>,
        who: Option<Extension<Authenticated>>,
        Path((namespace, job)): Path<(String, String)>,
        Query(query): Query<LogQuery>,
    ) -> Response {
        let (api, names) = match pods(&state, who, &namespace, &job, &query).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        };
        let mut text = String::new();
        for pod in &names {
            match api.logs(pod, &params(&query, false)).await {
                Ok(log) if names.len() == 1 => text.push_str(&log),
                Ok(log) => {
                    for line in log.lines() {
                        text.push_str(&format!("[{pod}] {line}\n"));
                    }
                }
                Err(e) => text.push_str(&format!("[{pod}] (no log: {e})\n")),
            }
        }
        let file = format!("attachment; filename=\"{job}.log\"");
        (
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".to_string(),
                ),
                (header::CONTENT_DISPOSITION, file),
            ],
            text,
        )
            .into_response()
    }
}
