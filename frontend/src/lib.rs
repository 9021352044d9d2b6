//! The wasm entry point: hydrates the server-rendered page into the interactive app.

use gantry_app::chunks;

/// Called by the script that Leptos' `HydrationScripts` puts in every page.
///
/// Pages are lazy routes (`gantry_app::routes`): the current page's code is a chunk of its
/// own, so hydration is asynchronous and completes once that chunk has arrived.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        if chunks::is_chunk_load_failure(&info.to_string()) {
            chunks::reload_for_missing_chunk();
        }
    }));
    let Some(body) = leptos::prelude::document().body() else {
        return;
    };
    // NB: not `leptos::mount::hydrate_lazy`, which gives no way to know when it is done.
    wasm_bindgen_futures::spawn_local(async move {
        leptos::mount::hydrate_from_async(body.clone(), gantry_app::App)
            .await
            .forget();
        // Marks the page interactive, so browser tests click only once handlers are attached.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
