//! The links MLflow prints ("View run at http://gantry/#/experiments/1/runs/…") are MLflow
//! UI's, in the URL's fragment, which never reaches the server: at `/` they are turned into
//! the same page of Gantry's, in the browser.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

/// Gantry's page for an MLflow UI fragment (`#/experiments/1/runs/abc`, `#/models/m/versions/2`),
/// or `None` for one it has no page for. Every segment must be a plain name, as MLflow's
/// ids and URL-encoded names are, so that nothing but one of these pages can be reached.
pub fn page_for(fragment: &str) -> Option<String> {
    let path = fragment.strip_prefix("#/")?.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    let plain = |s: &&str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
            && *s != "."
            && *s != ".."
    };
    if !segments.iter().all(plain) {
        return None;
    }
    match segments.as_slice() {
        ["experiments"] => Some("/experiments".into()),
        ["experiments", id] | ["experiments", id, "runs"] => Some(format!("/experiments/{id}")),
        ["experiments", _, "runs", run, ..] => Some(format!("/runs/{run}")),
        ["models"] => Some("/models".into()),
        ["models", name] => Some(format!("/models/{name}")),
        ["models", name, "versions", version] => Some(format!("/models/{name}/versions/{version}")),
        _ => None,
    }
}

/// Placed once inside the router: on `/` with an MLflow UI fragment, goes to Gantry's page
/// for it, replacing the entry so that Back does not bounce.
#[component]
pub fn FollowMlflowLinks() -> impl IntoView {
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if location.pathname.get() != "/" {
            return;
        }
        if let Some(page) = page_for(&location.hash.get()) {
            let replace = NavigateOptions {
                replace: true,
                ..NavigateOptions::default()
            };
            navigate(&page, replace);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::page_for;

    #[test]
    fn mlflow_ui_fragments_become_gantry_pages() {
        let cases = [
            (
                "#/experiments/1/runs/d6a7388d41be444392e48dbc8f2c054f",
                Some("/runs/d6a7388d41be444392e48dbc8f2c054f"),
            ),
            ("#/experiments/1/runs/abc/artifacts", Some("/runs/abc")),
            ("#/experiments/1", Some("/experiments/1")),
            ("#/experiments/1/", Some("/experiments/1")),
            ("#/experiments", Some("/experiments")),
            (
                "#/models/fraud%20detector",
                Some("/models/fraud%20detector"),
            ),
            (
                "#/models/fraud-detector/versions/2",
                Some("/models/fraud-detector/versions/2"),
            ),
            ("#/models", Some("/models")),
            ("", None),
            ("#top", None),
            ("#/experiments/1/traces", None),
            ("#/experiments/../admin", None),
            ("#/models/x?y=1", None),
            ("#//evil.example/x", None),
            ("#/models/a/versions/1/../../../admin", None),
        ];
        for (fragment, page) in cases {
            assert_eq!(page_for(fragment).as_deref(), page, "{fragment}");
        }
    }
}
