//! The front end's files under `/pkg`: sent precompressed (brotli, else gzip, from the `.br`
//! and `.gz` files the build writes beside each one) to a browser that accepts it, and
//! cached by the browser as their names allow. With hashed names (`hash.txt` beside the
//! binary, written by a build with `hash-files`), a name is never reused for other content,
//! so the files are cached for a year without asking again; without, every use asks again
//! with `If-Modified-Since` and costs a 304.

use std::path::Path;

use axum::http::{header, HeaderValue};
use tower::Layer;
use tower_http::services::ServeDir;
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};

/// The file naming the build's hashes, as Leptos looks for it: beside the running binary.
const HASH_FILE: &str = "hash.txt";

/// Whether this binary's front end has hashed names.
pub fn hashed_names() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(HASH_FILE)))
        .is_some_and(|file| file.exists())
}

/// The service for the `pkg` directory.
pub fn service(
    pkg: &Path,
    hashed: bool,
) -> SetResponseHeader<SetResponseHeader<ServeDir, HeaderValue>, HeaderValue> {
    let policy = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let files = ServeDir::new(pkg).precompressed_br().precompressed_gzip();
    let cached =
        SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(policy))
            .layer(files);
    // The same URL answers in three encodings: a shared cache must key on the header.
    SetResponseHeaderLayer::if_not_present(
        header::VARY,
        HeaderValue::from_static("accept-encoding"),
    )
    .layer(cached)
}
