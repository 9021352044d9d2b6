//! Starts the real `gantry` binary on port 0 with a fresh SQLite database, checks what it
//! answers, and stops it with SIGTERM as Kubernetes would.

use std::process::Command;
use std::time::{Duration, Instant};

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
    // Anonymous: which check failed, never the kubeconfig's path or the API server's address.
    assert_contains(
        body["kubernetes"]["reason"].as_str().unwrap(),
        "not connected to Kubernetes",
    );
    assert!(!response.body.contains("/nonexistent"), "{}", response.body);
    // A signed-in page keeps the detail.
    let cookie = server.login();
    let page = server.request("GET", "/", "", &[("Cookie", &cookie)]);
    assert_contains(&page.body, "/nonexistent/kubeconfig");
    server.stop();
}

/// SIGTERM, as Kubernetes stops a pod: `/readyz` fails at once, so the Service stops sending
/// clients here, while new connections are still answered for the drain; then Gantry exits.
#[test]
fn on_sigterm_readiness_fails_first_and_requests_are_served_through_the_drain() {
    let Some((mut server, _)) =
        TestServer::on_cluster_with("drain", &[("GANTRY_SHUTDOWN_DRAIN_SECS", "3")])
    else {
        return;
    };
    assert_eq!(server.get("/readyz").status, 200);
    let sent = Instant::now();
    server.terminate();
    let failing = loop {
        let answer = server.get("/readyz");
        if answer.status == 503 {
            break answer.json();
        }
        assert!(sent.elapsed() < Duration::from_secs(2), "/readyz still 200");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(failing["shutting_down"], true, "{failing}");
    assert_eq!(failing["kubernetes"]["ok"], true, "{failing}");
    assert_eq!(server.get("/healthz").status, 200);
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "answered within the drain"
    );
    server.exits_within(Duration::from_secs(10));
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_secs(3),
        "exited after {took:?}, before the drain ended"
    );
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
    // Without a leader Lease this process is the only one, and leads.
    assert_contains(&text, "gantry_leader 1\n");
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
    let sqlite = !crate::common::database::on_postgres();
    if sqlite {
        assert!(server.data.path().join("gantry.db").exists());
        // WAL mode keeps a -wal file beside the database while it is open.
        assert!(server.data.path().join("gantry.db-wal").exists());
    }
    server.stop();

    // Read back what the server wrote: the migration's table, and (SQLite) the mode it set.
    let db = server.database();
    let version = db.texts("SELECT last_started_version FROM instance");
    assert_eq!(version, [env!("CARGO_PKG_VERSION")]);
    if sqlite {
        assert_eq!(db.texts("PRAGMA journal_mode"), ["wal"]);
    }
    db.close();
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

/// Behind a trusted proxy the limiter and the audit log see the client the proxy forwarded
/// for (the right-most untrusted hop, not what the client prepended); without the setting
/// the header is ignored.
#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_limited_and_audited() {
    let mut server = TestServer::spawn_with(&[("GANTRY_TRUSTED_PROXIES", "127.0.0.1")]);
    let origin = server.base.clone();
    let fail = |username: &str, forwarded: &str| {
        server
            .request(
                "POST",
                "/api/login",
                &format!("username={username}&password=not+the+password"),
                &[("Origin", &origin), ("X-Forwarded-For", forwarded)],
            )
            .status
    };
    // 20 failures per address in 5 minutes, over different accounts (5 per account).
    for i in 0..20 {
        assert_eq!(
            fail(&format!("user{i}"), "6.6.6.6, 198.51.100.7"),
            401,
            "{i}"
        );
    }
    assert_eq!(fail("user-next", "6.6.6.6, 198.51.100.7"), 429);
    assert_eq!(
        fail("user-next", "7.7.7.7, 198.51.100.7"),
        429,
        "the prepended hop is not the client"
    );
    assert_eq!(
        fail("user-next", "198.51.100.8"),
        401,
        "another client is not limited"
    );
    let admin = server.login();
    let audit = server.request("GET", "/admin/audit.csv", "", &[("Cookie", &admin)]);
    assert_contains(&audit.body, "198.51.100.7");
    assert!(!audit.body.contains("6.6.6.6"), "{}", audit.body);
    server.stop();

    // No trusted proxies: the header is the client's own words, and ignored.
    let mut server = TestServer::spawn();
    let origin = server.base.clone();
    let response = server.request(
        "POST",
        "/api/login",
        "username=nobody&password=not+the+password",
        &[("Origin", &origin), ("X-Forwarded-For", "198.51.100.7")],
    );
    assert_eq!(response.status, 401);
    let admin = server.login();
    let audit = server.request("GET", "/admin/audit.csv", "", &[("Cookie", &admin)]);
    assert!(!audit.body.contains("198.51.100.7"), "{}", audit.body);
    assert_contains(&audit.body, "127.0.0.1");
    server.stop();
}

/// A change to Gantry's own tables and its audit row commit together: with the audit log
/// refusing writes (a trigger stands in for a full disk), creating an account or a token is
/// refused with the reason and leaves nothing behind; once the log works, both work.
#[test]
fn no_change_is_kept_when_its_audit_row_cannot_be_written() {
    let mut server = TestServer::spawn();
    let origin = server.base.clone();
    let admin = server.login();
    let db = server.database();
    let postgres = crate::common::database::on_postgres();
    // A full disk as each backend reports it (SQLite's message, PostgreSQL's SQLSTATE).
    db.execute(if postgres {
        "CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END; $$; \
         CREATE TRIGGER audit_full BEFORE INSERT ON audit_log \
         FOR EACH ROW EXECUTE FUNCTION audit_full()"
    } else {
        "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    });
    let create = |username: &str| {
        server.request(
            "POST",
            "/api/accounts/create",
            &format!("username={username}&display_name=E&password=eve+long+password&role=viewer&namespaces=*"),
            &[("Cookie", &admin), ("Origin", &origin)],
        )
    };
    let refused = create("eve");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_contains(&refused.body, "nothing was changed");
    let token = server.request(
        "POST",
        "/api/tokens/create",
        "name=ci&days=",
        &[("Cookie", &admin), ("Origin", &origin)],
    );
    assert_eq!(token.status, 503, "{}", token.body);
    let accounts = db.count("SELECT COUNT(*) FROM accounts WHERE username = 'eve'");
    let tokens = db.count("SELECT COUNT(*) FROM api_tokens");
    assert_eq!((accounts, tokens), (0, 0), "a change without its audit row");

    db.execute(if postgres {
        "DROP TRIGGER audit_full ON audit_log"
    } else {
        "DROP TRIGGER audit_full"
    });
    assert_eq!(create("eve").status, 200);

    // Another writer holding the table past Gantry's lock wait (5 s): a 503 that says so,
    // and nothing half-done.
    let mut holder = db.block_on(db.pool().acquire()).unwrap();
    let hold = if postgres {
        "BEGIN; LOCK TABLE accounts IN EXCLUSIVE MODE"
    } else {
        "BEGIN IMMEDIATE"
    };
    db.block_on(sqlx::raw_sql(hold).execute(&mut *holder))
        .unwrap();
    let busy = create("zed");
    db.block_on(async move {
        sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
        drop(holder);
    });
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_contains(&busy.body, "busy");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM accounts WHERE username = 'zed'"),
        0
    );
    db.close();
    server.stop();
}

/// Retention at start: audit entries and gone jobs' history older than their settings go
/// (the deletion itself on the record); newer ones and jobs still in the cluster stay; the
/// audit log is append-only again afterwards. A crashed upload's stage file in the local
/// artifact store, unwritten for longer than its setting, goes too; a recent one stays.
#[test]
fn retention_deletes_what_is_older_than_its_setting_and_nothing_else() {
    let mut first = TestServer::spawn();
    first.login();
    first.stop();
    let db = first.database();
    db.execute(
        "INSERT INTO audit_log (at, actor, action, object, detail, result, client) \
         VALUES ('2020-01-01T00:00:00Z', 'old', 'login', 'account/old', '', 'ok', '-')",
    );
    let now = gantry_app::time::now_rfc3339();
    for (uid, deleted) in [
        ("old-gone", "'2020-01-02T00:00:00Z'".to_string()),
        ("new-gone", format!("'{now}'")),
        ("old-live", "NULL".to_string()),
    ] {
        db.execute(&format!(
            "INSERT INTO jobs (uid, namespace, name, created_at, status, deleted_at) \
             VALUES ('{uid}', 'team-a', '{uid}', '2020-01-01T00:00:00Z', 'Succeeded', {deleted})"
        ));
    }
    db.execute("INSERT INTO job_logs (job_uid, pod, lines, captured_at) VALUES ('old-gone', 'p', 'x', '2020-01-02T00:00:00Z')");

    let folder = first.data.path().join("artifacts/1/r/artifacts");
    std::fs::create_dir_all(&folder).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    let (crashed, uploading) = (folder.join("weights.bin#4"), folder.join("other.bin#5"));
    let file = std::fs::File::create(&crashed).unwrap();
    file.set_modified(two_hours_ago).unwrap();
    std::fs::write(&uploading, b"a part").unwrap();

    let data = first.data.path().to_str().unwrap().to_string();
    let mut second = TestServer::spawn_with(&[
        ("GANTRY_DATA_DIR", &data),
        ("GANTRY_RETENTION_ARTIFACT_STAGE_HOURS", "1"),
    ]);
    let count = |query: &str| db.count(query);
    // Retention runs as the server starts; give it a moment.
    let started = std::time::Instant::now();
    while count("SELECT COUNT(*) FROM audit_log WHERE actor = 'old'") > 0 || crashed.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "retention did not run"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        uploading.exists(),
        "a stage written just now is an upload in progress"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.retention'"),
        1
    );
    assert!(
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'login'") >= 1,
        "today's entries stay"
    );
    assert_eq!(
        db.texts("SELECT uid FROM jobs ORDER BY uid"),
        ["new-gone", "old-live"]
    );
    assert_eq!(count("SELECT COUNT(*) FROM job_logs"), 0);
    let refused = db.block_on(sqlx::query("DELETE FROM audit_log").execute(db.pool()));
    assert!(refused.is_err(), "the audit log takes deletes again");
    db.close();
    second.stop();
}
