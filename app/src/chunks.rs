//! When a page's code cannot be loaded: reload where the user was going.
//!
//! Every page's code is a wasm chunk with its content's hash in its name (`routes`). A page
//! opened before a deployment knows the old names; the new version no longer serves them (nor,
//! during a rolling update, does a replica already replaced), so moving to a page whose chunk
//! is not loaded yet fails. Leptos 0.8's lazy routes then panic, which stops the wasm: the
//! entry point's panic hook calls [`reload_for_missing_chunk`], and the browser loads the page
//! the user was going to, from the deployed version.

use std::cell::RefCell;

use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_chunk_load_is_told_from_other_panics() {
        assert!(is_chunk_load_failure(
            "panicked at app/src/routes.rs:42:1:\nload callback should succeed: SplitLoaderError"
        ));
        assert!(!is_chunk_load_failure(
            "panicked at app/src/jobs/pages/detail.rs:1:1:\nindex out of bounds"
        ));
    }

    #[test]
    fn reloads_at_most_once_a_minute() {
        assert!(may_reload(None, 1_000_000));
        assert!(!may_reload(Some(1_000_000 - 59_000), 1_000_000));
        assert!(may_reload(Some(1_000_000 - 61_000), 1_000_000));
    }
}

thread_local! {
    /// Where the router is going: its URL changes at once, the address bar only once the page's
    /// code has arrived, so the address bar would take the user back to where they were.
    static TARGET: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps [`TARGET`] on the router's URL. Placed once inside the router.
#[component]
pub fn FollowNavigation() -> impl IntoView {
    let location = use_location();
    Effect::new(move |_| {
        // NB: the router keeps the query without its `?`, and the hash with its `#`.
        let search = location.search.get();
        let query = if search.is_empty() {
            String::new()
        } else {
            format!("?{search}")
        };
        let target = format!("{}{query}{}", location.pathname.get(), location.hash.get());
        TARGET.with(|slot| *slot.borrow_mut() = Some(target));
    });
}

/// Whether a panic's text is a page's chunk that could not be loaded (wasm-split's `expect`
/// in Leptos' lazy routes).
pub fn is_chunk_load_failure(panic: &str) -> bool {
    panic.contains("load callback should succeed")
}

/// The session storage key holding when the page last reloaded itself for a missing chunk.
const RELOADED_AT: &str = "gantry-chunk-reload-at";

/// Whether to reload at `now` (milliseconds since the epoch), having last done so at `last`: at
/// most once a minute, as a chunk missing from the new version too would otherwise reload
/// forever.
fn may_reload(last: Option<u64>, now: u64) -> bool {
    last.is_none_or(|last| now.saturating_sub(last) >= 60_000)
}

/// Loads the page the user was going to (or reloads this one) from the deployed version.
pub fn reload_for_missing_chunk() {
    let Some(window) = web_sys::window() else {
        return;
    };
    // NB: whole milliseconds, as float parsing and printing would add their code to the main
    // module for nothing.
    let now = js_sys::Date::now() as u64;
    let storage = window.session_storage().ok().flatten();
    let last = storage
        .as_ref()
        .and_then(|storage| storage.get_item(RELOADED_AT).ok().flatten())
        .and_then(|at| at.parse::<u64>().ok());
    if !may_reload(last, now) {
        return;
    }
    if let Some(storage) = storage {
        let _ = storage.set_item(RELOADED_AT, &now.to_string());
    }
    leptos::logging::warn!(
        "Gantry: a page's code could not be loaded (a newer version deployed?); loading it again"
    );
    let target = TARGET.with(|slot| slot.borrow().clone());
    let _ = match target {
        Some(target) => window.location().assign(&target),
        None => window.location().reload(),
    };
}
