//! Gantry's user interface: pages, components and server functions.
//!
//! Built twice: with `ssr` into the server (rendering pages, running server functions) and with
//! `hydrate` into the wasm that makes those pages interactive. One module per area; each holds
//! its components, its server functions and, behind `ssr`, its server-side logic.

// NB: release builds keep Leptos' full view types (debug builds erase them), and the nodes
// table's nested views need more than the default depth of 128 to lay out.
#![recursion_limit = "256"]

pub mod audit;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod caps;
pub mod chunks;
pub mod cluster;
#[cfg(feature = "ssr")]
pub mod db;
pub mod error;
pub mod layout;
#[cfg(feature = "ssr")]
pub mod leader;
#[cfg(feature = "ssr")]
pub mod locks;
pub mod names;
pub mod quantity;
#[cfg(feature = "ssr")]
pub mod retention;
pub mod theme;
pub mod time;
pub mod url;
#[cfg(feature = "ssr")]
pub mod watch;

mod admin;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod models;
pub mod nodes;
mod routes;
pub mod serving;

#[cfg(feature = "ssr")]
pub mod http_metrics;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, MetaTags, Title};
use leptos_router::components::Router;

use crate::layout::Layout;
use crate::routes::AppRoutes;
use crate::theme::ThemeRoot;

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_policy_allows_the_wasm_and_only_listed_frames() {
        let policy = super::page_policy("abc", &["https://portal.example".into()]);
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(policy.ends_with("frame-ancestors 'self' https://portal.example"));
        assert!(!policy.contains("unsafe-inline"));
    }
}

/// The CSP `frame-ancestors` sources: Gantry itself and the configured portals.
pub fn frame_ancestors(embed_origins: &[String]) -> String {
    std::iter::once("'self'")
        .chain(embed_origins.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The page's Content-Security-Policy: scripts only from Gantry and with this response's
/// nonce (the hydration script is inline), `'wasm-unsafe-eval'` for the wasm, no inline
/// styles or event handlers, framing only by Gantry and the configured portals.
pub fn page_policy(nonce: &str, embed_origins: &[String]) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {}",
        frame_ancestors(embed_origins)
    )
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response), Some(state)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
        use_context::<state::AppState>(),
    ) {
        if let Ok(value) =
            axum::http::HeaderValue::from_str(&page_policy(&nonce, &state.auth.embed_origins))
        {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes for the six areas inside the common layout.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Title formatter=|page: String| format!("{page} · Gantry") />
        <Router>
            <chunks::FollowNavigation />
            <models::pages::links::FollowMlflowLinks />
            <ThemeRoot />
            <Layout>
                <AppRoutes />
            </Layout>
        </Router>
    }
}
