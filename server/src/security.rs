//! Cross-site request forgery protection and the security headers every response carries.
//!
//! CSRF: a state-changing request (anything but GET, HEAD, OPTIONS) made with the session
//! cookie must come from Gantry's own pages or a configured trusted origin, which browsers
//! prove with `Origin` or `Sec-Fetch-Site`. Cookie `SameSite` alone is not enough: embedding
//! needs `SameSite=None`, and that is when CSRF bites (grafana#16330). Requests with an API
//! token and no cookie carry no ambient authority and are not checked.
//!
//! Headers: pages get a Content-Security-Policy with a fresh nonce (see `gantry_app::shell`);
//! every other response gets a policy that allows nothing, plus `nosniff` and a referrer
//! policy.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gantry_app::error::AppError;
use gantry_app::state::AppState;

/// Why a request is refused as cross-site, or `None` when it may go on.
pub fn csrf_refusal(
    method: &Method,
    origin: Option<&str>,
    fetch_site: Option<&str>,
    host: Option<&str>,
    has_cookie: bool,
    has_bearer: bool,
    trusted: &[String],
) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if let Some(origin) = origin.filter(|o| *o != "null") {
        let same_host = host.is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
        });
        return if same_host || trusted.iter().any(|t| t.eq_ignore_ascii_case(origin)) {
            None
        } else {
            Some("the request comes from another site")
        };
    }
    match fetch_site {
        Some("same-origin") => None,
        // "none" is a navigation the user made themselves (typed URL, bookmark).
        Some("none") => None,
        Some(_) => Some("the request comes from another site"),
        // No browser evidence at all: fine for a token, not for a cookie.
        None if has_cookie && !has_bearer => Some("the request does not say where it comes from"),
        None => None,
    }
}

pub async fn csrf(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let refusal = csrf_refusal(
        request.method(),
        text(header::ORIGIN),
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        text(header::HOST),
        headers.contains_key(header::COOKIE),
        text(header::AUTHORIZATION)
            .is_some_and(|v| v.starts_with("Bearer ") || v.starts_with("Basic ")),
        &state.auth.trusted_origins,
    );
    match refusal {
        None => next.run(request).await,
        Some(reason) => {
            tracing::warn!(reason, origin = ?text(header::ORIGIN), "refused a cross-site request");
            AppError::forbidden(format!(
                "{reason}; state-changing requests must come from Gantry's own pages"
            ))
            .into_response()
        }
    }
}

/// Adds the headers every response carries; a page's own policy (with its nonce) is kept.
pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !state.auth.embed_origins.is_empty() {
        partition_session_cookie(headers);
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = format!(
            "default-src 'none'; frame-ancestors {}",
            gantry_app::frame_ancestors(&state.auth.embed_origins)
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// Marks the session cookie `Partitioned` (CHIPS): inside a portal's frame, browsers that
/// block third-party cookies keep a partitioned one, scoped to that portal.
fn partition_session_cookie(headers: &mut axum::http::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let value = match cookie.to_str() {
            Ok(text) if text.starts_with("gantry_session=") && !text.contains("Partitioned") => {
                HeaderValue::from_str(&format!("{text}; Partitioned")).unwrap_or(cookie)
            }
            _ => cookie,
        };
        headers.append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: Method,
        origin: Option<&str>,
        site: Option<&str>,
        cookie: bool,
        bearer: bool,
    ) -> bool {
        let trusted = vec!["https://portal.example".to_string()];
        csrf_refusal(
            &method,
            origin,
            site,
            Some("gantry.example:3000"),
            cookie,
            bearer,
            &trusted,
        )
        .is_none()
    }

    #[test]
    fn only_the_session_cookie_is_partitioned() {
        let mut headers = axum::http::HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("gantry_session=abc; SameSite=None; Secure"),
        );
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("gantry_theme=dark"),
        );
        partition_session_cookie(&mut headers);
        let cookies: Vec<_> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            cookies,
            [
                "gantry_session=abc; SameSite=None; Secure; Partitioned",
                "gantry_theme=dark"
            ]
        );
    }

    #[test]
    fn reads_are_never_refused() {
        assert!(check(
            Method::GET,
            Some("https://evil.example"),
            Some("cross-site"),
            true,
            false
        ));
    }

    #[test]
    fn writes_must_come_from_gantry_or_a_trusted_origin() {
        assert!(check(
            Method::POST,
            Some("http://gantry.example:3000"),
            None,
            true,
            false
        ));
        assert!(check(
            Method::POST,
            Some("https://portal.example"),
            Some("cross-site"),
            true,
            false
        ));
        assert!(!check(
            Method::POST,
            Some("https://evil.example"),
            None,
            true,
            false
        ));
        assert!(!check(
            Method::POST,
            Some("http://gantry.example:3000.evil.example"),
            None,
            true,
            false
        ));
        assert!(!check(
            Method::DELETE,
            Some("null"),
            Some("cross-site"),
            true,
            false
        ));
        assert!(check(Method::POST, None, Some("same-origin"), true, false));
        assert!(!check(Method::POST, None, Some("same-site"), true, false));
    }

    #[test]
    fn without_browser_evidence_only_tokens_pass() {
        assert!(!check(Method::POST, None, None, true, false));
        assert!(check(Method::POST, None, None, false, true));
        assert!(check(Method::POST, None, None, true, true));
        assert!(check(Method::POST, None, None, false, false));
    }
}
