//! The route table: every path and the page it shows.
//!
//! Every page is a lazy route: in the browser its code is a wasm chunk of its own, fetched
//! when the page is first shown (the server names the current page's chunks in the HTML, so
//! the first load fetches them beside the main module, not after it). The main module keeps
//! what every page needs: the framework, the layout, the router and the live transport.
//! Without this, every area's pages would be in the first download of every page, and the
//! wasm would grow with each area (405 KB brotli for the six areas, against a 350 KB budget).
//!
//! Lazy routes need the build to split the wasm (`cargo leptos build --split`, as the
//! Makefile's builds do) and the page to hydrate asynchronously (`frontend/src/lib.rs`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Route, Routes};
use leptos_router::{path, Lazy};

use crate::error::{AppError, ErrorNotice};
use crate::{admin, auth, jobs, models, nodes, serving};

/// Declares `$route`, the lazy route showing the page component `$page` (one without props).
///
/// NB: `#[lazy_route]` names the chunk after the route's type, so each route needs a type of
/// its own, and the chunks never collide.
macro_rules! lazy_page {
    ($route:ident => $page:path) => {
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_route: Self) -> AnyView {
                // As `view!` builds a component: its setup reads signals without subscribing.
                untrack($page).into_view().into_any()
            }
        }
    };
}

lazy_page!(LoginRoute => auth::pages::login::LoginPage);
lazy_page!(TokensRoute => auth::pages::tokens::TokensPage);
lazy_page!(OverviewRoute => nodes::pages::overview::OverviewPage);
lazy_page!(NodesRoute => nodes::pages::list::NodesPage);
lazy_page!(NodeRoute => nodes::pages::detail::NodeDetailPage);
lazy_page!(JobsRoute => jobs::pages::list::JobsPage);
lazy_page!(LaunchRoute => jobs::pages::launch::LaunchPage);
lazy_page!(JobRoute => jobs::pages::detail::JobPage);
lazy_page!(ModelsRoute => models::pages::registry::ModelsPage);
lazy_page!(ModelRoute => models::pages::registry::ModelPage);
lazy_page!(ExperimentsRoute => models::pages::runs::ExperimentsPage);
lazy_page!(ExperimentRoute => models::pages::runs::ExperimentPage);
lazy_page!(RunRoute => models::pages::runs::RunPage);
lazy_page!(VersionRoute => models::pages::version::VersionPage);
lazy_page!(CompareRunsRoute => models::pages::compare::CompareRunsPage);
lazy_page!(CompareVersionsRoute => models::pages::compare::CompareVersionsPage);
lazy_page!(ServingRoute => serving::pages::list::ServingPage);
lazy_page!(ServiceRoute => serving::pages::detail::ServicePage);
lazy_page!(ServedRoute => serving::pages::served::WhereServedPage);
lazy_page!(AdminRoute => admin::AdminPage);

/// The pages, by path; a path no page has shows "not found".
#[component]
pub fn AppRoutes() -> impl IntoView {
    view! {
        <Routes fallback=|| {
            view! {
                <Title text="Not found" />
                <ErrorNotice error=AppError::not_found("this page") />
            }
        }>
            <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} />
            <Route path=path!("/tokens") view={Lazy::<TokensRoute>::new()} />
            <Route path=path!("/") view={Lazy::<OverviewRoute>::new()} />
            <Route path=path!("/nodes") view={Lazy::<NodesRoute>::new()} />
            <Route path=path!("/nodes/:name") view={Lazy::<NodeRoute>::new()} />
            <Route path=path!("/jobs") view={Lazy::<JobsRoute>::new()} />
            <Route path=path!("/jobs/new") view={Lazy::<LaunchRoute>::new()} />
            <Route path=path!("/jobs/:namespace/:name") view={Lazy::<JobRoute>::new()} />
            <Route path=path!("/models") view={Lazy::<ModelsRoute>::new()} />
            <Route path=path!("/models/:name") view={Lazy::<ModelRoute>::new()} />
            <Route
                path=path!("/models/:name/versions/:version")
                view={Lazy::<VersionRoute>::new()}
            />
            <Route
                path=path!("/models/:name/compare")
                view={Lazy::<CompareVersionsRoute>::new()}
            />
            <Route path=path!("/experiments") view={Lazy::<ExperimentsRoute>::new()} />
            <Route path=path!("/experiments/:id") view={Lazy::<ExperimentRoute>::new()} />
            <Route path=path!("/runs/:id") view={Lazy::<RunRoute>::new()} />
            <Route path=path!("/compare/runs") view={Lazy::<CompareRunsRoute>::new()} />
            <Route path=path!("/serving") view={Lazy::<ServingRoute>::new()} />
            <Route path=path!("/serving/model/:name") view={Lazy::<ServedRoute>::new()} />
            <Route
                path=path!("/serving/:kind/:namespace/:name")
                view={Lazy::<ServiceRoute>::new()}
            />
            <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} />
        </Routes>
    }
}
