//! The wasm entry point: hydrates the server-rendered page into the interactive app.

/// Called by the script that Leptos' `HydrationScripts` puts in every page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(gantry_app::App);
    // Marks the page interactive, so browser tests click only once handlers are attached.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
