//! Starts the real `gantry` binary on port 0 with a fresh SQLite database, checks what it
//! answers, and stops it with SIGTERM as Kubernetes would.

use std::process::Command;

use crate::common::server::{assert_contains, TestServer};

#[test]
fn healthz_answers_ok() {
    let mut server = TestServer::spawn();
    let response = server.get("/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "ok");
    server.stop();
}

#[test]
fn readyz_reports_each_dependency_and_why_it_is_not_ready() {
    let mut server = TestServer::spawn();
    let response = server.get("/readyz");
    assert_eq!(response.status, 503);
    let body = response.json();
    assert_eq!(body["ready"], false);
    assert_eq!(body["database"]["ok"], true, "{body}");
    assert_eq!(body["kubernetes"]["ok"], false, "{body}");
    let reason = body["kubernetes"]["reason"].as_str().unwrap();
    assert_contains(reason, "/nonexistent/kubeconfig");
    server.stop();
}

#[test]
fn metrics_count_requests_by_route_and_status() {
    let mut server = TestServer::spawn();
    for _ in 0..3 {
        server.get("/healthz");
    }
    let cookie = server.login();
    server.request("GET", "/no/such/page", "", &[("Cookie", &cookie)]);
    let response = server.get("/metrics");
    assert_eq!(response.status, 200);
    assert_contains(&response.head, "application/openmetrics-text");
    let text = response.body;
    assert_contains(
        &text,
        r#"gantry_http_requests_total{method="GET",route="/healthz",status="200"} 3"#,
    );
    assert_contains(
        &text,
        r#"gantry_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
    );
    assert_contains(
        &text,
        r#"gantry_http_request_duration_seconds_bucket{le="0.001""#,
    );
    // No cluster here: the inventory is empty and says it has not synced.
    assert_contains(&text, "gantry_inventory_synced 0\n");
    assert_contains(&text, "gantry_inventory_pods 0\n");
    assert!(text.ends_with("# EOF\n"), "{text}");
    server.stop();
}

#[test]
fn pages_are_server_rendered_with_the_not_connected_banner_after_login() {
    let mut server = TestServer::spawn();
    let anonymous = server.get("/nodes");
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/login?next=%2Fnodes"));

    let cookie = server.login();
    let page = server.request("GET", "/nodes", "", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200);
    // Debug builds mark text nodes for hydration (`<h1>GPU nodes<!></h1>`).
    assert_contains(&page.body, "<h1>GPU nodes");
    assert_contains(&page.body, "Not connected to Kubernetes");
    let policy = page.header("content-security-policy").expect("a CSP");
    assert_contains(policy, "'wasm-unsafe-eval'");
    assert_contains(policy, "frame-ancestors 'self'");

    let missing = server.request("GET", "/no/such/page", "", &[("Cookie", &cookie)]);
    assert_eq!(missing.status, 404);
    assert_contains(&missing.body, "this page not found");
    server.stop();
}

#[test]
fn server_functions_answer_over_http_to_signed_in_users() {
    let mut server = TestServer::spawn();
    let anonymous = server.post_form("/api/cluster-status", "");
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    let cookie = server.login();
    let origin = server.base.clone();
    let response = server.request(
        "POST",
        "/api/cluster-status",
        "",
        &[("Cookie", &cookie), ("Origin", &origin)],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["state"], "not_connected", "{body}");
    server.stop();
}

#[test]
fn the_database_is_migrated_and_in_wal_mode() {
    let mut server = TestServer::spawn();
    assert!(server.data.path().join("gantry.db").exists());
    // WAL mode keeps a -wal file beside the database while it is open.
    assert!(server.data.path().join("gantry.db-wal").exists());
    server.stop();

    // Read back what the server wrote: the migration's table, and the mode it set.
    let url = format!(
        "sqlite://{}",
        server.data.path().join("gantry.db").display()
    );
    let (version, mode): (String, String) =
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let version = sqlx::query_scalar("SELECT last_started_version FROM instance")
                .fetch_one(&pool)
                .await
                .unwrap();
            let mode = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&pool)
                .await
                .unwrap();
            (version, mode)
        });
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(mode, "wal");
}

#[test]
fn a_bad_setting_stops_the_start_with_its_name() {
    let output = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .env_clear()
        .env("GANTRY_LISTEN_ADDR", "port 80")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_contains(&stderr, "GANTRY_LISTEN_ADDR: expected an address");
}

/// The front end's files keep their own status and headers while pages render beside them:
/// served through Leptos' fallback, a 404 page rendering at the same time on the same
/// thread lent its status (and its CSP) to a wasm download (seen in the browser tests).
#[test]
fn static_files_answer_200_while_404_pages_render_beside_them() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/gantry.wasm"), vec![0u8; 256 * 1024]).unwrap();
    std::fs::write(site.path().join("favicon.svg"), "<svg/>").unwrap();
    let site_root = site.path().to_str().unwrap().to_string();
    let mut server = TestServer::spawn_with(&[("GANTRY_SITE_ROOT", &site_root)]);
    let cookie = server.login();
    let statuses = std::thread::scope(|scope| {
        let pages: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..25 {
                        let page =
                            server.request("GET", "/no/such/page", "", &[("Cookie", &cookie)]);
                        assert_eq!(page.status, 404);
                    }
                })
            })
            .collect();
        let files: Vec<_> = (0..4)
            .map(|i| {
                let path = if i % 2 == 0 {
                    "/pkg/gantry.wasm"
                } else {
                    "/favicon.svg"
                };
                let server = &server;
                scope.spawn(move || {
                    (0..25)
                        .map(|_| {
                            let file = server.get(path);
                            let csp = file
                                .header("content-security-policy")
                                .unwrap_or("")
                                .to_string();
                            (path, file.status, csp.contains("nonce-"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        pages.into_iter().for_each(|p| p.join().unwrap());
        files
            .into_iter()
            .flat_map(|f| f.join().unwrap())
            .collect::<Vec<_>>()
    });
    let wrong: Vec<_> = statuses
        .iter()
        .filter(|(_, status, page_csp)| *status != 200 || *page_csp)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} wrong: {:?}",
        wrong.len(),
        statuses.len(),
        &wrong[..wrong.len().min(5)]
    );
    server.stop();
}
