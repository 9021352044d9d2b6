//! Identity: logging in and out, who the current user is, and what they may do.
//!
//! `rules` holds the checks (shared with the wasm, so the UI hides what the server refuses);
//! `server` holds accounts, sessions, tokens and the request layer. Every server function in
//! every area starts with `auth::server::require(action, namespace)`.

pub mod rules;
#[cfg(feature = "ssr")]
pub mod server;
pub mod tokens;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use rules::Principal;

/// The signed-in user, or `None`.
#[server(endpoint = "me")]
pub async fn get_current_user() -> Result<Option<Principal>, AppError> {
    Ok(server::current().map(|who| who.principal))
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
    let client = server::client_address();
    let ip = client.parse().ok();
    match server::check_login(&state, &username, password, ip).await {
        Ok(row) => {
            server::start_session(&session, row.id).await?;
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
            Ok(server::safe_next(next.as_deref().unwrap_or("/")))
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
                _ => "denied",
            };
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
    if let Some(who) = server::current() {
        let name = &who.principal.username;
        audit::record(
            &state.db,
            name,
            "logout",
            &format!("account/{name}"),
            "",
            "ok",
            &server::client_address(),
        )
        .await?;
    }
    server::end_session(&session).await
}

/// A full page load, so that every part of the page (header, navigation, data) is rendered
/// again for the new user rather than patched.
fn reload_at(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// The login form. After logging in, the user lands where they were going (`?next=`).
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.read_untracked().get("next");
    let action = ServerAction::<Login>::new();
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            reload_at(&target);
        }
    });
    let error = move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    view! {
        <Title text="Log in" />
        <section class="login">
            <h1>"Log in to Gantry"</h1>
            <ActionForm action attr:class="login-form" attr:aria-label="Log in">
                <input type="hidden" name="next" value=next />
                <label>
                    "Username"
                    <input type="text" name="username" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                <p class="form-error" role="alert" data-testid="login-error">{error}</p>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    "Log in"
                </button>
            </ActionForm>
        </section>
    }
}

/// The signed-in user's name and role in the header, with the logout button.
#[component]
pub fn UserMenu(user: Principal) -> impl IntoView {
    let action = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            reload_at("/login");
        }
    });
    view! {
        <span class="user" data-testid="user">
            <span class="user-name">{user.display_name}</span>
            <span class="user-role">{user.role.as_str()}</span>
            <a class="user-tokens" href="/tokens">"API tokens"</a>
        </span>
        <button
            type="button"
            class="logout"
            data-testid="logout"
            on:click=move |_| {
                action.dispatch(Logout {});
            }
        >
            "Log out"
        </button>
    }
}
