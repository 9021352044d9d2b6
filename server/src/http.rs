//! The layers every request passes through: a tracing span, request metrics, and the HTTP status
//! of server function errors.

use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use gantry_app::error::AppError;
use gantry_app::state::AppState;
use leptos::server_fn::error::FromServerFnError;
use tower::{Layer, Service};
use tracing::Span;

/// The route pattern a request matched, or a fixed label for the fallback (static files and
/// unknown paths), so the raw path never becomes a label.
fn route_label(matched: Option<String>, status: StatusCode) -> String {
    match matched {
        Some(path) => path,
        None if status == StatusCode::NOT_FOUND => "unmatched".into(),
        None => "static".into(),
    }
}

/// The span each request's logs are recorded in; level and filters come from `RUST_LOG`.
pub fn request_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        path = %request.uri().path(),
    )
}

/// Counts the request and its latency under its route pattern and status.
pub async fn track_metrics(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string());
    let response = next.run(request).await;
    let route = route_label(matched, response.status());
    state.http_metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// What one request body may hold: 1 MiB, or `GANTRY_ARTIFACT_MAX_BYTES` for an MLflow
/// artifact upload (streamed to disk, so its size never reaches memory).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Refuses a body over its limit: at once when its `Content-Length` says so, else when the
/// reading passes it (tower-http's `RequestBodyLimitLayer`, chosen per request).
pub async fn limit_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit =
        if gantry_app::models::api::is_artifact_upload(request.method(), request.uri().path()) {
            usize::try_from(state.artifacts.max_bytes).unwrap_or(usize::MAX)
        } else {
            BODY_LIMIT
        };
    let service = tower::service_fn(move |request: axum::http::Request<_>| {
        let next = next.clone();
        async move {
            let request = request.map(Body::new);
            Ok::<_, std::convert::Infallible>(next.run(request).await)
        }
    });
    let mut limited = tower_http::limit::RequestBodyLimitLayer::new(limit).layer(service);
    match limited.call(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

/// Leptos answers every failed server function with 500; this sets the status that the
/// [`AppError`] in the body stands for, so a denied call is a 403, a bad field a 400, and so on.
pub async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let marker = HeaderName::from_static(leptos::server_fn::error::SERVER_FN_ERROR_HEADER);
    if !response.headers().contains_key(&marker) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Error bodies are a few hundred bytes of JSON; the limit only guards against surprises.
    let bytes = match to_bytes(body, 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a server function error body");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let error = AppError::de(bytes.clone());
    if let Ok(status) = StatusCode::from_u16(error.status_code()) {
        parts.status = status;
    }
    if let AppError::RateLimited { retry_after_secs } = error {
        parts
            .headers
            .insert(header::RETRY_AFTER, retry_after_secs.into());
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    /// A route that fails the way a Leptos server function does: 500, the marker header, and
    /// the encoded error as the body.
    fn failing_server_fn(error: AppError) -> Router {
        Router::new()
            .route(
                "/api/thing",
                post(move || {
                    let error = error.clone();
                    async move {
                        Response::builder()
                            .status(StatusCode::INTERNAL_SERVER_ERROR)
                            .header(
                                leptos::server_fn::error::SERVER_FN_ERROR_HEADER,
                                "/api/thing",
                            )
                            .body(Body::from(error.ser()))
                            .unwrap()
                    }
                }),
            )
            .layer(axum::middleware::from_fn(server_fn_error_status))
    }

    async fn call(router: Router) -> (StatusCode, AppError) {
        let request = Request::post("/api/thing").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        (status, AppError::de(body))
    }

    #[tokio::test]
    async fn server_function_errors_get_their_own_status_and_keep_their_body() {
        let cases = [
            (AppError::forbidden("ops-admin only"), 403),
            (AppError::invalid("name", "must be DNS-1123"), 400),
            (AppError::unavailable("Kubernetes", "not connected"), 503),
        ];
        for (error, status) in cases {
            let (got_status, got_error) = call(failing_server_fn(error.clone())).await;
            assert_eq!(got_status.as_u16(), status, "{error:?}");
            assert_eq!(got_error, error);
        }
    }

    #[tokio::test]
    async fn other_responses_pass_untouched() {
        let router = Router::new()
            .route(
                "/api/thing",
                post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "plain") }),
            )
            .layer(axum::middleware::from_fn(server_fn_error_status));
        let request = Request::post("/api/thing").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn unmatched_paths_never_become_labels() {
        assert_eq!(route_label(None, StatusCode::NOT_FOUND), "unmatched");
        assert_eq!(route_label(None, StatusCode::OK), "static");
        assert_eq!(route_label(Some("/nodes".into()), StatusCode::OK), "/nodes");
    }
}
