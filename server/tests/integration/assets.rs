//! The front end's files as a browser gets them: the brotli or gzip file the build wrote
//! beside each one when the browser accepts it, the plain file otherwise, a cache policy
//! that fits the names (a year when they are hashed, revalidation otherwise) and a 304 for a
//! copy the browser already has.

use std::path::Path;

use crate::common::server::TestServer;

#[test]
fn front_end_files_are_sent_precompressed_and_cached_as_their_names_allow() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    // Stand-ins told apart by their content: the server must pick the file, not encode.
    for (name, content) in [
        ("gantry.wasm", "plain"),
        ("gantry.wasm.br", "as brotli"),
        ("gantry.wasm.gz", "as gzip"),
    ] {
        std::fs::write(pkg.join(name), content).unwrap();
    }
    let root = site.path().to_str().unwrap().to_string();
    let mut server = TestServer::spawn_with(&[("GANTRY_SITE_ROOT", &root)]);
    let get = |encodings: &str| {
        server.request(
            "GET",
            "/pkg/gantry.wasm",
            "",
            &[("Accept-Encoding", encodings)],
        )
    };

    let brotli = get("gzip, deflate, br");
    assert_eq!(brotli.status, 200);
    assert_eq!(brotli.body, "as brotli");
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    assert_eq!(brotli.header("vary"), Some("accept-encoding"));
    let gzip = get("gzip");
    assert_eq!(
        (gzip.body.as_str(), gzip.header("content-encoding")),
        ("as gzip", Some("gzip"))
    );
    let plain = get("identity");
    assert_eq!(
        (plain.body.as_str(), plain.header("content-encoding")),
        ("plain", None)
    );

    // hash.txt beside the binary (a build with hashed names) decides the policy.
    let hashed = Path::new(env!("CARGO_BIN_EXE_gantry"))
        .with_file_name("hash.txt")
        .exists();
    let policy = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    assert_eq!(brotli.header("cache-control"), Some(policy));
    let modified = brotli
        .header("last-modified")
        .expect("a validator")
        .to_string();
    let again = server.request(
        "GET",
        "/pkg/gantry.wasm",
        "",
        &[("Accept-Encoding", "br"), ("If-Modified-Since", &modified)],
    );
    assert_eq!(again.status, 304);
    assert_eq!(again.body, "");
    server.stop();
}
