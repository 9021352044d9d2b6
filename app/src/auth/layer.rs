//! The request layer that says who each request is from (a bearer token, else the session),
//! reading the account on every request so that disabling it takes effect at once, and from
//! which client address; and [`still_valid`], the same check again for requests that last.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::caller::{Caller, ClientAddress, Credential};
use super::rules::{Namespaces, Principal};
use super::{accounts, session, token_store};
use crate::error::AppError;
use crate::state::AppState;

/// Paths that never depend on who asks: probes, metrics, the front end's files. They skip
/// the session and account lookups, which would otherwise cost two database reads for
/// every script, stylesheet and wasm fetch of every page load.
fn needs_no_identity(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/favicon.svg")
        || path.starts_with("/pkg/")
}

/// Server functions anyone may call: logging in, and asking who is logged in. Every other
/// `/api/` call without a user is a 401 here, before its arguments are even read; each
/// function then checks its own role and namespace rules.
fn is_public_api(path: &str) -> bool {
    matches!(path, "/api/login" | "/api/me")
}

/// Says who the request is from (an `Authorization: Bearer` token, else the session) by
/// putting [`Caller`] into its extensions; sends anonymous page requests to the
/// login page. A token that is not valid is a 401 at once: automation should hear why.
pub async fn authenticate(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    if needs_no_identity(request.uri().path()) {
        return next.run(request).await;
    }
    if let Some(peer) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = super::proxies::client(peer, &forwarded, &state.auth.trusted_proxies);
        request.extensions_mut().insert(ClientAddress(client));
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(api_token);
    let found = match bearer {
        Some(token) => match token_store::token_account(&state.db, &token).await {
            Some(live) => Some((
                live.account_id,
                Credential::Token(live.token_id),
                live.namespace,
            )),
            None => {
                return (
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    unauthenticated(request.uri().path()),
                )
                    .into_response()
            }
        },
        None => match (
            session::session_account(&state.auth, &session).await,
            session.id(),
        ) {
            (Some(account), Some(id)) => Some((account, Credential::Session(id), None)),
            _ => None,
        },
    };
    // The account is read on every request, so disabling it or changing its role takes
    // effect at once, not at the next login.
    let authenticated = match found {
        Some((account_id, via, scope)) => match principal_of(&state, account_id).await {
            Some(principal) => match scoped(principal, scope.as_deref(), request.uri().path()) {
                Ok(principal) => Some(Caller {
                    principal,
                    account_id,
                    via,
                }),
                Err(refused) => return refused.into_response(),
            },
            None => None,
        },
        None => None,
    };
    match authenticated {
        Some(who) => {
            request.extensions_mut().insert(who);
        }
        None if request.uri().path().starts_with("/api/") => {
            if !is_public_api(request.uri().path()) {
                return unauthenticated(request.uri().path());
            }
        }
        None if request.method() == Method::GET && request.uri().path() != "/login" => {
            let next_path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!("/login?next={}", crate::url::encode_component(next_path));
            return Redirect::to(&target).into_response();
        }
        None => {}
    }
    next.run(request).await
}

/// The principal a job's token acts as: its owner, in the job's namespace only (none, if the
/// owner has since lost it), on MLflow's routes only (anything else is a 403 saying so).
/// A pod's leaked token can thus log to its own namespace's runs and nothing more.
fn scoped(
    mut principal: Principal,
    namespace: Option<&str>,
    path: &str,
) -> Result<Principal, AppError> {
    let Some(namespace) = namespace else {
        return Ok(principal);
    };
    if !crate::models::api::is_mlflow(path) {
        return Err(AppError::forbidden(format!(
            "this token was made for a job's pods: it reaches only MLflow's API, in namespace {namespace}"
        )));
    }
    let kept = principal.namespaces.allows(namespace);
    principal.namespaces = Namespaces::Only(if kept {
        vec![namespace.to_string()]
    } else {
        Vec::new()
    });
    Ok(principal)
}

/// The 401 for a request without a valid credential: MLflow's clients read errors only in
/// their own shape (`error_code`), everyone else gets the JSON `AppError`.
fn unauthenticated(path: &str) -> Response {
    if crate::models::api::is_mlflow(path) {
        crate::models::wire::MlflowError(AppError::Unauthenticated).into_response()
    } else {
        AppError::Unauthenticated.into_response()
    }
}

/// The API token in an `Authorization` header: `Bearer <token>`, or `Basic` with the token as
/// the password (what MLflow's client sends with `MLFLOW_TRACKING_USERNAME`/`PASSWORD`; the
/// username is not read). A Basic password is never checked as an account password: that
/// would run a 19 MiB argon2 hash on every request of a training loop.
fn api_token(header: &str) -> Option<String> {
    use base64::Engine;
    if let Some(token) = header.strip_prefix("Bearer ") {
        return Some(token.trim().to_string());
    }
    let encoded = header.strip_prefix("Basic ")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_string())
}

/// Whether `caller` would still be let in as they were when their request began: the
/// session or token still live, the account still enabled with the same role and
/// namespaces. What long requests (live streams) check again while they run, so that a
/// logout, a revocation or a change of role ends them.
pub async fn still_valid(state: &AppState, caller: &Caller) -> bool {
    let credential = match caller.via {
        Credential::Token(id) => token_store::is_live(&state.db, id).await.unwrap_or(false),
        Credential::Session(id) => session::is_live(&state.auth, &state.sessions, &id).await,
    };
    credential && principal_of(state, caller.account_id).await.as_ref() == Some(&caller.principal)
}

/// Who account `account_id` is now, if it exists and is enabled.
async fn principal_of(state: &AppState, account_id: i64) -> Option<Principal> {
    match accounts::account_by_id(&state.db, account_id).await {
        Ok(Some(row)) if !row.disabled() => row.principal().ok(),
        _ => None,
    }
}

/// Where a successful login goes: `next` if it is a path on this site, else the overview.
/// Anything else (`//evil.example`, `https://…`, `javascript:`) would make the login page an
/// open redirect.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_token_comes_as_bearer_or_as_the_basic_password() {
        assert_eq!(api_token("Bearer gt_abc ").as_deref(), Some("gt_abc"));
        // base64("mlflow:gt_abc")
        assert_eq!(
            api_token("Basic bWxmbG93Omd0X2FiYw==").as_deref(),
            Some("gt_abc")
        );
        assert_eq!(api_token("Basic !!!"), None);
        assert_eq!(api_token("Digest x"), None);
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next("/jobs?ns=team-a"), "/jobs?ns=team-a");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\\evil",
            "",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
