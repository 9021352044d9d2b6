//! Starts the real `gantry` binary on port 0 with a fresh SQLite database, checks what it
//! answers, and stops it with SIGTERM as Kubernetes would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "test admin password";

struct TestServer {
    base: String,
    child: Child,
    data: tempfile::TempDir,
}

impl TestServer {
    /// A server with its own data directory and a kubeconfig that does not exist, so the
    /// cluster is "not connected" for a known reason.
    fn spawn() -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .env_clear()
            .env("GANTRY_LISTEN_ADDR", "127.0.0.1:0")
            .env("GANTRY_DATA_DIR", data.path())
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .env("GANTRY_SHUTDOWN_TIMEOUT_SECS", "2")
            .env("GANTRY_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start gantry");
        // The server prints its address once it listens; that line is the readiness signal.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("Gantry is running at ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        TestServer { base, child, data }
    }

    fn get(&self, path: &str) -> Response {
        self.request("GET", path, "", &[])
    }

    fn post_form(&self, path: &str, body: &str) -> Response {
        self.request("POST", path, body, &[])
    }

    /// Logs in as the first admin, as the login page does, and returns the session cookie.
    fn login(&self) -> String {
        let origin = self.base.clone();
        let response = self.request(
            "POST",
            "/api/login",
            &format!(
                "username=admin&password={}",
                ADMIN_PASSWORD.replace(' ', "+")
            ),
            &[("Origin", &origin)],
        );
        assert_eq!(response.status, 200, "{}", response.body);
        response
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_string()
    }

    /// One HTTP/1.1 request on a fresh connection, with a deadline so a stuck server fails the
    /// test instead of hanging it.
    fn request(&self, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
        let host = self.base.trim_start_matches("http://");
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let mut stream = TcpStream::connect(host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .unwrap_or_else(|e| panic!("{method} {path}: no complete answer: {e}"));
        Response::parse(&raw)
    }

    /// Sends SIGTERM and expects a clean exit within a few seconds.
    fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "gantry exited with {status}");
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("gantry did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A parsed HTTP response.
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let text = String::from_utf8_lossy(raw);
        let (head, rest) = text.split_once("\r\n\r\n").expect("a header block");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        Response {
            status,
            head: head.to_string(),
            body,
        }
    }

    /// The first value of header `name` (lower-case).
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Joins the chunks of a `Transfer-Encoding: chunked` body (streamed pages use it).
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// Fails with the whole text when `needle` is missing from it.
#[track_caller]
fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        let _ = self.child.kill();
    }
}

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
