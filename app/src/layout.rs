//! The frame around every page: header, navigation, cluster banner, and the chrome-less
//! embedded mode (`?embed=1`) for portals that show a Gantry page in an iframe.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::auth::get_current_user;
use crate::auth::pages::login::UserMenu;
use crate::auth::rules::{Action, Role};
use crate::cluster::{ClusterBadge, ClusterStatus, NotConnectedBanner};
use crate::error::AppError;
use crate::theme::ThemeToggle;

/// The six areas, in navigation order: (path, label).
pub const AREAS: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/nodes", "GPU nodes"),
    ("/jobs", "Training jobs"),
    ("/models", "Models"),
    ("/serving", "Serving"),
    ("/admin", "Admin"),
];

/// Whether the page was asked for without navigation chrome.
pub fn is_embedded(embed: Option<&str>) -> bool {
    matches!(embed, Some("1" | "true"))
}

/// Whether a user with `role` sees the area at `path` in the navigation. The server refuses
/// the area's data to others anyway; this only keeps the menu honest.
pub fn area_visible(path: &str, role: Role) -> bool {
    match path {
        "/admin" => role.may(Action::Administer),
        _ => role.may(Action::View),
    }
}

/// Header and navigation around `children`, or `children` alone when embedded or when
/// nobody is logged in (the login page).
/// Reads the current connection state for the header (signed-in users only).
#[server(endpoint = "cluster-status")]
pub async fn get_cluster_status() -> Result<ClusterStatus, AppError> {
    // The reason may name files and hosts: signed-in users only.
    crate::auth::caller::require(crate::auth::rules::Action::View, None)?;
    Ok(crate::state::app_state()?.cluster.status())
}

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let query = use_query_map();
    let embedded = is_embedded(query.read_untracked().get("embed").as_deref());
    let me = Resource::new(|| (), |_| get_current_user());
    let status = Resource::new(|| (), |_| get_cluster_status());
    let menu_open = RwSignal::new(false);
    crate::metrics::pages::alerts::provide_alerts_seen();

    let chrome = move || {
        Suspend::new(async move {
            let user = me.await.ok().flatten()?;
            let role = user.role;
            Some(view! {
                <header class="topbar">
                    <button
                        type="button"
                        class="menu-toggle"
                        data-testid="menu-toggle"
                        aria-controls="main-nav"
                        aria-expanded=move || menu_open.get().to_string()
                        on:click=move |_| menu_open.update(|open| *open = !*open)
                    >
                        "Menu"
                    </button>
                    <a class="brand" href="/">
                        <img src="/favicon.svg" alt="" width="22" height="22" />
                        "Gantry"
                    </a>
                    <div class="topbar-right">
                        <Suspense fallback=|| view! { <span class="cluster-badge">"…"</span> }>
                            {move || Suspend::new(async move {
                                status.await.ok().map(|status| view! { <ClusterBadge status /> })
                            })}
                        </Suspense>
                        <crate::metrics::pages::alerts::AlertCount />
                        <ThemeToggle />
                        <UserMenu user />
                    </div>
                </header>
                <nav
                    id="main-nav"
                    class="sidebar"
                    class:open=move || menu_open.get()
                    aria-label="Main"
                    on:click=move |_| menu_open.set(false)
                >
                    <ul>
                        {AREAS
                            .iter()
                            .filter(|(path, _)| area_visible(path, role))
                            .map(|(path, label)| {
                                view! {
                                    <li>
                                        <A href=*path exact=true>
                                            {*label}
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
            })
        })
    };

    view! {
        <div class="app" class:embedded=embedded>
            {(!embedded).then(|| view! { <Suspense>{chrome}</Suspense> })}
            <main class="content">
                <Suspense>
                    {move || Suspend::new(async move {
                        status.await.ok().map(|status| view! { <NotConnectedBanner status /> })
                    })}
                </Suspense>
                {children()}
            </main>
        </div>
    }
}

/// The warning shown while the cluster cannot be watched: what is shown is the last known
/// state, and since when.
#[component]
pub fn StaleNotice(since: Signal<Option<String>>) -> impl IntoView {
    move || {
        since.get().map(|since| {
            view! {
                <p class="stale" role="alert" data-testid="stale">
                    <strong>{format!("Stale since {since}.")}</strong>
                    " The cluster cannot be reached; these numbers are the last known state and will update when it is back."
                </p>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_is_opt_in() {
        assert!(is_embedded(Some("1")));
        assert!(is_embedded(Some("true")));
        assert!(!is_embedded(Some("0")));
        assert!(!is_embedded(None));
    }

    #[test]
    fn six_areas_with_unique_paths() {
        let mut paths: Vec<_> = AREAS.iter().map(|(p, _)| *p).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), 6);
    }

    #[test]
    fn only_ops_admins_see_the_admin_area() {
        assert!(area_visible("/admin", Role::OpsAdmin));
        assert!(!area_visible("/admin", Role::DataScientist));
        assert!(!area_visible("/admin", Role::Viewer));
        assert!(area_visible("/jobs", Role::Viewer));
    }
}

/// Previous and Next for a paged table: `current` is the page shown (0-based, as the
/// server answered it), `pages` how many there are; a click asks for another `page`.
#[component]
pub fn Pager(page: RwSignal<usize>, current: Signal<usize>, pages: Signal<usize>) -> impl IntoView {
    view! {
        <nav class="pager" aria-label="Pages">
            <button
                type="button"
                disabled=move || current.get() == 0
                on:click=move |_| page.set(current.get().saturating_sub(1))
            >
                "Previous"
            </button>
            <span>{move || format!("Page {} of {}", current.get() + 1, pages.get())}</span>
            <button
                type="button"
                disabled=move || current.get() + 1 >= pages.get()
                on:click=move |_| page.set(current.get() + 1)
            >
                "Next"
            </button>
        </nav>
    }
}

/// A change in two steps: a button labelled `label` asks `question`, with Confirm and Cancel;
/// Confirm runs `act`. The question says exactly what will change.
#[component]
pub fn ConfirmButton(
    label: &'static str,
    #[prop(into)] question: Signal<String>,
    act: Callback<()>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button type="button" on:click=move |_| asking.set(true)>
                        {label}
                    </button>
                }
            }
        >
            <span class="confirm" role="group" aria-label="Confirm">
                {move || question.get()}
                <button
                    type="button"
                    class="primary"
                    on:click=move |_| {
                        act.run(());
                        asking.set(false);
                    }
                >
                    "Confirm"
                </button>
                <button type="button" on:click=move |_| asking.set(false)>
                    "Cancel"
                </button>
            </span>
        </Show>
    }
}
