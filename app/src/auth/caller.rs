//! Who is calling: the [`Caller`] that the request layer (`auth::layer`) puts into each
//! signed-in request, taken by axum handlers as an extractor and by server functions with
//! [`require`]. Every area acts as the caller through it: `state.cluster.as_user(&caller)`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use leptos::prelude::use_context;

use super::rules::{Action, Principal};
use crate::error::AppError;

/// A signed-in caller: the account and how it proved itself. Reads as its [`Principal`]
/// (`caller.username`, `caller.check(…)`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub account_id: i64,
    /// How: a browser session or an API token (the token's id).
    pub via: Credential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A browser session, by its id.
    Session(tower_sessions::session::Id),
    /// An API token, by its row's id.
    Token(i64),
}

impl Caller {
    /// 403 for a caller with an API token: what mints credentials (tokens, accounts,
    /// passwords) needs a person signed in, or a leaked token could make itself new ones.
    pub fn signed_in_in_person(&self, to: &str) -> Result<(), AppError> {
        match self.via {
            Credential::Session(_) => Ok(()),
            Credential::Token(_) => Err(AppError::forbidden(format!(
                "an API token cannot {to}; log in to do it"
            ))),
        }
    }
}

impl std::ops::Deref for Caller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

/// In an axum handler, `caller: Caller` answers 401 (the JSON `AppError`) for nobody, so no
/// handler repeats the "who is calling" check.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, AppError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(AppError::Unauthenticated)
    }
}

/// Who is calling the current server function or rendering the current page, if anyone.
pub fn current() -> Option<Caller> {
    use_context::<Parts>().and_then(|parts| parts.extensions.get::<Caller>().cloned())
}

/// The caller, if they may take `action` (in `namespace`); 401 for nobody, 403 with the
/// reason otherwise. Server functions start with this, or with `state::caller`.
pub fn require(action: Action, namespace: Option<&str>) -> Result<Caller, AppError> {
    let caller = current().ok_or(AppError::Unauthenticated)?;
    caller.check(action, namespace)?;
    Ok(caller)
}

/// The client a request is from, as the request layer found it (behind trusted proxies,
/// the client they forwarded for; see [`super::proxies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

/// The caller's address, for the audit log and rate limits.
pub fn client_address() -> String {
    use_context::<Parts>()
        .and_then(|parts| {
            parts
                .extensions
                .get::<ClientAddress>()
                .map(|c| c.0)
                .or_else(|| {
                    parts
                        .extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|c| c.0.ip())
                })
        })
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "-".into())
}
