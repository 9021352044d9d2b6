//! Gantry's user interface: pages, components and server functions.
//!
//! Built twice: with `ssr` into the server (rendering pages, running server functions) and with
//! `hydrate` into the wasm that makes those pages interactive. One module per area; each holds
//! its components, its server functions and, behind `ssr`, its server-side logic.

pub mod cluster;
pub mod error;
pub mod layout;
pub mod theme;

mod admin;
mod jobs;
mod models;
mod nodes;
mod overview;
mod serving;

#[cfg(feature = "ssr")]
pub mod http_metrics;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::error::{AppError, ErrorNotice};
use crate::layout::Layout;
use crate::theme::ThemeRoot;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
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
        <Stylesheet id="leptos" href="/pkg/gantry.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Title formatter=|page: String| format!("{page} · Gantry") />
        <Router>
            <ThemeRoot />
            <Layout>
                <Routes fallback=|| {
                    view! {
                        <Title text="Not found" />
                        <ErrorNotice error=AppError::not_found("this page") />
                    }
                }>
                    <Route path=path!("/") view=overview::OverviewPage />
                    <Route path=path!("/nodes") view=nodes::NodesPage />
                    <Route path=path!("/jobs") view=jobs::JobsPage />
                    <Route path=path!("/models") view=models::ModelsPage />
                    <Route path=path!("/serving") view=serving::ServingPage />
                    <Route path=path!("/admin") view=admin::AdminPage />
                </Routes>
            </Layout>
        </Router>
    }
}
