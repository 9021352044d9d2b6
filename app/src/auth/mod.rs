//! Identity: logging in and out, who the current user is, what they may do, and API tokens.
//!
//! `rules` holds the checks (shared with the wasm, so the UI hides what the server refuses).
//! On the server: `caller` (who is calling, for handlers and server functions), `layer` (the
//! request layer that finds out), `session`, `login`, `limiter`, `password`, `proxies` (the
//! client behind trusted proxies), and the stores of
//! the `accounts` and `api_tokens` tables. Every server function in every area starts with
//! `state::caller(action, namespace)` or `caller::require`.

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod caller;
#[cfg(feature = "ssr")]
pub mod layer;
#[cfg(feature = "ssr")]
pub mod limiter;
#[cfg(feature = "ssr")]
pub mod login;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod proxies;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod session_store;
#[cfg(feature = "ssr")]
pub mod settings;
#[cfg(feature = "ssr")]
pub mod token_store;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use rules::Principal;

/// An API token as lists show it: never the secret, only its first characters. Tokens are
/// for automation (CI pipelines registering models and deploying): created by a user, shown
/// once, stored as a SHA-256 hash, acting with that user's role and namespaces, optionally
/// expiring, revocable. Sent as `Authorization: Bearer gantry_…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TokenView {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// The longest a token may live, in days; longer-lived automation renews.
pub const MAX_DAYS: u32 = 365;

/// The signed-in user, or `None`.
#[server(endpoint = "me")]
pub async fn get_current_user() -> Result<Option<Principal>, AppError> {
    Ok(caller::current().map(|caller| caller.principal))
}

/// Logs in: a new session for the account, and the path to go to next. Refusals say
/// "wrong username or password" whichever it was, and are rate-limited (429).
#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<String, AppError> {
    use crate::audit;
    use crate::state::app_state;

    let state = app_state()?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|e| AppError::internal("reading the session", e))?;
    let username = username.trim().to_lowercase();
    let client = caller::client_address();
    let ip = client.parse().ok();
    match login::check_login(&state, &username, password, ip).await {
        Ok(row) => {
            session::start_session(&session, row.id).await?;
            audit::record(
                &state.db,
                &username,
                "login",
                &format!("account/{username}"),
                "",
                "ok",
                &client,
            )
            .await?;
            Ok(layer::safe_next(next.as_deref().unwrap_or("/")))
        }
        Err(error) => {
            // Only names that could be usernames are logged, so the log cannot be fed markup.
            let actor = if rules::validate_username(&username).is_ok() {
                username.as_str()
            } else {
                "-"
            };
            let result = match &error {
                AppError::RateLimited { .. } => "rate-limited",
                AppError::Unavailable { .. } => "busy",
                _ => "denied",
            };
            // A flood of refused logins is summed: the first of each window is written now,
            // the rest as one row when the window ends (`login::write_refusals`).
            let first = result == "denied"
                || state
                    .login_limiter
                    .refused(result, actor, &client, &crate::time::now_rfc3339());
            if !first {
                return Err(error);
            }
            audit::record(
                &state.db,
                actor,
                "login.failed",
                &format!("account/{actor}"),
                "",
                result,
                &client,
            )
            .await?;
            Err(error)
        }
    }
}

/// Logs out: the session is destroyed on the server, not just forgotten by the browser.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::audit;
    use crate::state::app_state;

    let state = app_state()?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|e| AppError::internal("reading the session", e))?;
    if let Some(who) = caller::current() {
        let name = &who.principal.username;
        audit::record(
            &state.db,
            name,
            "logout",
            &format!("account/{name}"),
            "",
            "ok",
            &caller::client_address(),
        )
        .await?;
    }
    session::end_session(&session).await
}

/// Creates a token for the caller and returns its secret, the only time it is shown.
#[server(endpoint = "tokens/create")]
pub async fn create_token(name: String, days: Option<String>) -> Result<String, AppError> {
    use crate::time::{format_unix, unix_now};

    let (state, caller) = crate::state::caller(rules::Action::View, None)?;
    caller.signed_in_in_person("create tokens")?;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "use 1 to 100 characters on one line",
        ));
    }
    let days = match days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => Some(d),
            _ => {
                return Err(AppError::invalid(
                    "days",
                    format!("a whole number of days from 1 to {MAX_DAYS}, or empty for no expiry"),
                ))
            }
        },
    };
    let token = token_store::new_token();
    let now = unix_now();
    let expires_at = days.map(|d| format_unix(now + u64::from(d) * 86_400));
    let mut tx = state.db.begin().await?;
    let created_at = format_unix(now);
    let new = token_store::NewToken {
        account_id: caller.account_id,
        name: &name,
        token: &token,
        created_at: &created_at,
        expires_at: expires_at.as_deref(),
        job: None,
    };
    let outcome = token_store::insert(tx.conn(), &new).await;
    let user = &caller.username;
    let detail = format!(
        "name={name:?} expires={}",
        expires_at.as_deref().unwrap_or("never")
    );
    let object = format!("account/{user}");
    let entry = crate::audit::Entry {
        actor: user,
        action: "token.create",
        object: &object,
        detail: &detail,
    };
    crate::audit::committed(&state.db, tx, entry, outcome).await?;
    Ok(token)
}

/// The caller's tokens; ops admins see everyone's.
#[server(endpoint = "tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, AppError> {
    let (state, caller) = crate::state::caller(rules::Action::View, None)?;
    let everyone = caller.role.may(rules::Action::Administer);
    token_store::list(&state.db, everyone, caller.account_id).await
}

/// Revokes a token: the caller's own, or anyone's for an ops admin. 404 for others', so a
/// user cannot learn which token ids exist.
#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(rules::Action::View, None)?;
    let everyone = caller.role.may(rules::Action::Administer);
    let owner = token_store::owner(&state.db, id, everyone, caller.account_id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("token {id}")))?;
    let mut tx = state.db.begin().await?;
    let outcome = token_store::revoke(tx.conn(), id).await;
    let object = format!("token/{id} of {owner}");
    let entry = crate::audit::Entry {
        actor: &caller.username,
        action: "token.revoke",
        object: &object,
        detail: "",
    };
    crate::audit::committed(&state.db, tx, entry, outcome).await
}
