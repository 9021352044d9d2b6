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
    use axum::body::Bytes;
    use axum::extract::{Path, Query, State};
    use axum::http::header;
    use axum::response::{IntoResponse, Response};
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams, LogParams};

    use super::{LogLine, LogQuery};
    use crate::auth::caller::Caller;
    use crate::auth::rules::Action;
    use crate::error::AppError;
    use crate::jobs::log_reader;
    use crate::live;
    use crate::state::AppState;

    /// A log stream ends after this long; the page reconnects with a fresh tail (so longer
    /// than other streams, whose reconnection costs nothing).
    const STREAM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(1800);
    /// Pods one live stream follows at once (each is a connection to the API server).
    pub const MAX_PODS: usize = 8;
    /// The most of one pod's log a download carries (the API server's `limitBytes`).
    pub const DOWNLOAD_BYTES: i64 = 256 * 1024 * 1024;

    /// The pods to read: the named one (if it belongs to the job) or all of the job's.
    async fn pods(
        state: &AppState,
        caller: &Caller,
        namespace: &str,
        job: &str,
        query: &LogQuery,
        following: bool,
    ) -> Result<(Api<Pod>, Vec<String>), AppError> {
        crate::names::check_object(namespace, job)?;
        if !query.pod.is_empty() {
            crate::names::check_name("pod", &query.pod)?;
        }
        if !query.container.is_empty() && !crate::names::is_dns_label(&query.container) {
            return Err(AppError::invalid("container", "not a container name"));
        }
        caller.check(Action::View, Some(namespace))?;
        let client = if following {
            state.cluster.as_user_following(caller)?
        } else {
            state.cluster.as_user(caller)?
        };
        let api: Api<Pod> = Api::namespaced(client, namespace);
        let list = api
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .map_err(|e| AppError::from_kube(e, &format!("the pods of job {namespace}/{job}")))?;
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
        caller: Caller,
        Path((namespace, job)): Path<(String, String)>,
        Query(query): Query<LogQuery>,
    ) -> Response {
        let (api, names) = match pods(&state, &caller, &namespace, &job, &query, true).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        };
        // At most MAX_PODS followed at once; each pod's log is opened when the stream is
        // first read, not all before the answer starts.
        let note = (names.len() > MAX_PODS).then(|| {
            let line = format!(
                "(following {MAX_PODS} of {} pods; pick a pod to follow another)",
                names.len()
            );
            Ok(live::message(&LogLine {
                pod: String::new(),
                line,
            }))
        });
        let params = params(&query, true);
        let per_pod = names.into_iter().take(MAX_PODS).map(|pod| {
            let (api, params) = (api.clone(), params.clone());
            futures::stream::once(async move {
                let lines = match api.log_stream(&pod, &params).await {
                    Ok(reader) => log_reader::lines(reader, log_reader::MAX_LINE).boxed(),
                    // A pod not started yet has no log: say so in its place.
                    Err(e) => {
                        futures::stream::once(async move { Ok(format!("(no log yet: {e})")) })
                            .boxed()
                    }
                };
                lines.map(move |line| (pod.clone(), line))
            })
            .flatten()
            .boxed()
        });
        let lines = futures::stream::select_all(per_pod).map(|(pod, line)| match line {
            Ok(line) => Ok(live::message(&LogLine { pod, line })),
            Err(e) => Err(AppError::unavailable("Kubernetes", e.to_string())),
        });
        let lines = futures::stream::iter(note).chain(lines);
        live::sse(&state, &caller, STREAM_LIFETIME, lines).await
    }

    /// `GET /api/v1/jobs/{namespace}/{name}/logs.txt?pod=&container=`: the whole log of one pod
    /// (or of each pod in turn) as a file.
    pub async fn download(
        State(state): State<AppState>,
        caller: Caller,
        Path((namespace, job)): Path<(String, String)>,
        Query(query): Query<LogQuery>,
    ) -> Response {
        let (api, names) = match pods(&state, &caller, &namespace, &job, &query, false).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        };
        // Streamed pod after pod, each at most DOWNLOAD_BYTES: memory stays one chunk
        // whatever the logs weigh. Several pods are told apart by a header line each.
        let params = LogParams {
            limit_bytes: Some(DOWNLOAD_BYTES),
            ..params(&query, false)
        };
        let many = names.len() > 1;
        let body = futures::stream::iter(names)
            .then(move |pod| {
                let (api, params) = (api.clone(), params.clone());
                async move {
                    let header = many.then(|| Ok(Bytes::from(format!("==> {pod} <==\n"))));
                    let log = match api.log_stream(&pod, &params).await {
                        Ok(reader) => log_reader::chunks(reader).boxed(),
                        Err(e) => futures::stream::once(async move {
                            Ok(Bytes::from(format!("(no log: {e})\n")))
                        })
                        .boxed(),
                    };
                    futures::stream::iter(header).chain(log)
                }
            })
            .flatten();
        let file = format!("attachment; filename=\"{job}.log\"");
        (
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".to_string(),
                ),
                (header::CONTENT_DISPOSITION, file),
            ],
            axum::body::Body::from_stream(body),
        )
            .into_response()
    }
}
