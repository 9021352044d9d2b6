//! The login form, and the signed-in user's menu in the header.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth::rules::Principal;
use crate::auth::{Login, Logout};

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

/// Where to go after logging in: the server's checked `next`, with the fragment the user's
/// link had. A browser keeps the fragment through the redirect to this page but never sends
/// it, so the server's `next` lacks it; a link MLflow printed (`/#/experiments/…`) needs it
/// to reach its run. A fragment cannot change which page the path loads.
fn after_login(target: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        let hash = window().location().hash().unwrap_or_default();
        if !target.contains('#') && hash.len() > 1 {
            return format!("{target}{hash}");
        }
    }
    target.to_owned()
}

/// The login form. After logging in, the user lands where they were going (`?next=` and
/// the link's fragment).
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.read_untracked().get("next");
    let action = ServerAction::<Login>::new();
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            reload_at(&after_login(&target));
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
