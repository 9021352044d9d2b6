//! Light and dark themes: follow the system by default, switchable, remembered in a cookie.
//!
//! NB: a cookie rather than localStorage, so the server renders the chosen theme and the page
//! never flashes the wrong colours before the wasm loads. `?theme=light|dark` overrides it, for
//! portals that embed Gantry and pass their own theme.

use leptos::prelude::*;
use leptos_meta::Html;
use leptos_router::hooks::use_query_map;

/// The cookie that remembers the choice.
const COOKIE: &str = "gantry_theme";

/// The user's theme choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// Follow the operating system's light or dark preference.
    System,
    Light,
    Dark,
}

impl Theme {
    /// Parses a stored or requested value; anything unknown means `None`.
    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "system" => Some(Theme::System),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    /// The value stored in the cookie and set as `data-theme` on `<html>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The choice after one click of the toggle.
    pub fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }

    /// The theme to render: a `?theme=` query wins, then the cookie, then the system.
    pub fn choose(query: Option<&str>, cookie_header: Option<&str>) -> Theme {
        query
            .and_then(Theme::parse)
            .or_else(|| cookie_header.and_then(theme_from_cookies))
            .unwrap_or(Theme::System)
    }
}

fn theme_from_cookies(header: &str) -> Option<Theme> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| Theme::parse(value))
}

/// The request's cookies: from the request on the server, from the document in the browser.
/// Both sides read the same cookie, so hydration starts from the theme the server rendered.
fn cookie_header() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>().and_then(|parts| {
            parts
                .headers
                .get(axum::http::header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
    }
    #[cfg(not(feature = "ssr"))]
    {
        use wasm_bindgen::JsCast;
        document()
            .dyn_into::<web_sys::HtmlDocument>()
            .ok()
            .and_then(|doc| doc.cookie().ok())
    }
}

fn remember(theme: Theme) {
    use wasm_bindgen::JsCast;
    if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
        // A year is "remembered" for a UI preference; Lax keeps it first-party.
        let cookie = format!(
            "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            theme.as_str()
        );
        // Failing to store a preference is not worth an error: the theme still applies now.
        let _ = doc.set_cookie(&cookie);
    }
}

/// Sets `data-theme` on `<html>` and provides the theme signal to the toggle.
#[component]
pub fn ThemeRoot() -> impl IntoView {
    let query = use_query_map();
    let initial = Theme::choose(
        query.read_untracked().get("theme").as_deref(),
        cookie_header().as_deref(),
    );
    let theme = RwSignal::new(initial);
    provide_context(theme);
    view! { <Html {..} data-theme=move || theme.get().as_str() /> }
}

/// The button that cycles system → light → dark.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = expect_context::<RwSignal<Theme>>();
    view! {
        <button
            type="button"
            class="theme-toggle"
            data-testid="theme-toggle"
            title="Switch between the system's theme, light and dark"
            aria-label=move || format!("Theme: {}", theme.get().as_str())
            on:click=move |_| {
                let next = theme.get_untracked().next();
                theme.set(next);
                remember(next);
            }
        >
            // A phone's header has room for the choice alone (style/main.css, .wide-only).
            <span class="wide-only">"Theme: "</span>
            {move || theme.get().as_str()}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_system_without_a_choice() {
        assert_eq!(Theme::choose(None, None), Theme::System);
        assert_eq!(Theme::choose(None, Some("other=1")), Theme::System);
    }

    #[test]
    fn the_cookie_is_remembered() {
        assert_eq!(
            Theme::choose(None, Some("a=b; gantry_theme=dark; c=d")),
            Theme::Dark
        );
        assert_eq!(
            Theme::choose(None, Some("gantry_theme=bogus")),
            Theme::System
        );
    }

    #[test]
    fn the_query_overrides_the_cookie() {
        assert_eq!(
            Theme::choose(Some("light"), Some("gantry_theme=dark")),
            Theme::Light
        );
        assert_eq!(
            Theme::choose(Some("purple"), Some("gantry_theme=dark")),
            Theme::Dark
        );
    }

    #[test]
    fn the_toggle_cycles_through_all_three() {
        let start = Theme::System;
        assert_eq!(start.next(), Theme::Light);
        assert_eq!(start.next().next(), Theme::Dark);
        assert_eq!(start.next().next().next(), start);
    }
}
