//! A real `gantry` process for integration tests: started on port 0 with a fresh database
//! (SQLite, or PostgreSQL when the suite runs beside it) and a first admin, spoken to over plain HTTP/1.1, stopped with SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "test admin password";

pub struct TestServer {
    pub base: String,
    child: Child,
    pub data: tempfile::TempDir,
    /// `GANTRY_DATABASE_URL` as this server was given it.
    pub database_url: String,
}

impl TestServer {
    /// A server with its own data directory and a kubeconfig that does not exist, so the
    /// cluster is "not connected" for a known reason.
    pub fn spawn() -> TestServer {
        Self::spawn_with(&[])
    }

    /// A server with extra environment settings.
    pub fn spawn_with(env: &[(&str, &str)]) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        // A server restarted on an earlier one's directory gets its database too.
        let data_dir = env
            .iter()
            .find(|(key, _)| *key == "GANTRY_DATA_DIR")
            .map_or(data.path().to_path_buf(), |(_, dir)| dir.into());
        let database_url = env
            .iter()
            .find(|(key, _)| *key == "GANTRY_DATABASE_URL")
            .map_or_else(
                || super::database::url_for(&data_dir),
                |(_, url)| url.to_string(),
            );
        let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .env_clear()
            .env("GANTRY_LISTEN_ADDR", "127.0.0.1:0")
            .env("GANTRY_DATA_DIR", data.path())
            .env("GANTRY_DATABASE_URL", &database_url)
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .env("GANTRY_SHUTDOWN_TIMEOUT_SECS", "2")
            // No drain (no Service sends clients here): a test that wants one sets it.
            .env("GANTRY_SHUTDOWN_DRAIN_SECS", "0")
            .env("GANTRY_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "error")
            .envs(env.iter().copied())
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
        TestServer {
            base,
            child,
            data,
            database_url,
        }
    }

    /// A pool on this server's database, for checks behind its back.
    pub fn database(&self) -> super::database::TestDb {
        super::database::TestDb::open(&self.database_url)
    }

    /// The server's peak resident memory so far, in KiB (Linux' `VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, "", &[])
    }

    pub fn post_form(&self, path: &str, body: &str) -> Response {
        self.request("POST", path, body, &[])
    }

    /// Logs in as the first admin, as the login page does, and returns the session cookie.
    pub fn login(&self) -> String {
        self.login_as("admin", ADMIN_PASSWORD)
    }

    /// Logs in as `username` and returns the session cookie (`name=value`).
    pub fn login_as(&self, username: &str, password: &str) -> String {
        let origin = self.base.clone();
        let response = self.request(
            "POST",
            "/api/login",
            &format!(
                "username={username}&password={}",
                password.replace(' ', "+")
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

    /// Creates an account as the admin (`admin` is the admin's session cookie) does it,
    /// through the server function.
    pub fn create_account(
        &self,
        admin: &str,
        username: &str,
        password: &str,
        role: &str,
        namespaces: &str,
    ) {
        let origin = self.base.clone();
        let body = format!(
            "username={username}&display_name={username}&password={}&role={role}&namespaces={namespaces}",
            password.replace(' ', "+")
        );
        let response = self.request(
            "POST",
            "/api/accounts/create",
            &body,
            &[("Cookie", admin), ("Origin", &origin)],
        );
        assert_eq!(response.status, 200, "{}", response.body);
    }

    /// Creates an API token for the user signed in with `cookie`, and returns it.
    pub fn create_token(&self, cookie: &str) -> String {
        let origin = self.base.clone();
        let response = self.request(
            "POST",
            "/api/tokens/create",
            "name=ci&days=",
            &[("Cookie", cookie), ("Origin", &origin)],
        );
        assert_eq!(response.status, 200, "{}", response.body);
        response.json().as_str().unwrap().to_string()
    }

    /// One HTTP/1.1 request with a form body on a fresh connection, with a deadline so a
    /// stuck server fails the test instead of hanging it.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send(
            method,
            path,
            "application/x-www-form-urlencoded",
            body,
            headers,
        )
    }

    /// A request with a JSON body, as API clients send.
    pub fn request_json(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send(method, path, "application/json", &body.to_string(), headers)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let host = self.base.trim_start_matches("http://");
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        self.exchange(&format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    /// Sends `raw` on a fresh connection and reads the whole answer.
    fn exchange(&self, raw: &str) -> Response {
        let host = self.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let first_line = raw.lines().next().unwrap_or_default();
        stream
            .read_to_end(&mut answer)
            .unwrap_or_else(|e| panic!("{first_line}: no complete answer: {e}"));
        Response::parse(&answer)
    }

    /// A POST that announces a body of `claimed` bytes and sends none: what a server that
    /// limits bodies must refuse from the headers alone. (Sending megabytes instead races
    /// the server's early answer against the client's writes.)
    pub fn announce_body(&self, path: &str, claimed: usize) -> Response {
        let host = self.base.trim_start_matches("http://");
        self.exchange(&format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {claimed}\r\n\r\n"
        ))
    }

    /// A server on the local cluster as Gantry's ServiceAccount (`None` when
    /// [`super::cluster::kubeconfig_path`] says to skip), ready with its caches synced, and
    /// the first admin's session cookie.
    pub fn on_cluster(test: &str) -> Option<(TestServer, String)> {
        Self::on_cluster_with(test, &[])
    }

    /// [`TestServer::on_cluster`] with extra settings.
    pub fn on_cluster_with(test: &str, env: &[(&str, &str)]) -> Option<(TestServer, String)> {
        let kubeconfig = super::cluster::gantry_kubeconfig_path(test)?;
        let mut settings = vec![("KUBECONFIG", kubeconfig.to_str().unwrap())];
        settings.extend_from_slice(env);
        let server = TestServer::spawn_with(&settings);
        let started = Instant::now();
        while server.get("/readyz").status != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "not ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let cookie = server.login();
        Some((server, cookie))
    }

    /// Opens a server-sent events stream at `path` with `cookie`; 200 expected.
    pub fn events(&self, path: &str, cookie: &str) -> EventStream {
        self.events_with(path, ("Cookie", cookie))
    }

    /// Opens a server-sent events stream at `path` with one credential header (`Cookie` or
    /// `Authorization`); 200 expected.
    pub fn events_with(&self, path: &str, (name, value): (&str, &str)) -> EventStream {
        let host = self.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{name}: {value}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut lines = BufReader::new(stream);
        let mut status = String::new();
        lines.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{path}: {status}");
        EventStream { lines }
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL, as a node that dies takes its pods: nothing of Gantry's shutdown runs.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and expects a clean exit within a few seconds.
    pub fn stop(&mut self) {
        self.terminate();
        self.exits_within(Duration::from_secs(10));
    }

    /// Waits for a clean exit (after [`TestServer::terminate`]) for at most `most`.
    pub fn exits_within(&mut self, most: Duration) {
        let deadline = Instant::now() + most;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "gantry exited with {status}");
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("gantry did not stop within {most:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An open event stream, read one `data:` line at a time. The body is chunked, but hyper
/// sends each event as one chunk, so a `data:` line is never split.
pub struct EventStream {
    lines: BufReader<TcpStream>,
}

impl EventStream {
    /// How long until the server ends the stream (its last chunk, or the connection closed);
    /// panics after `most`.
    pub fn ends_within(&mut self, most: Duration) -> Duration {
        let started = Instant::now();
        let mut line = String::new();
        loop {
            assert!(
                started.elapsed() < most,
                "the stream was still open after {most:?}"
            );
            line.clear();
            match self.lines.read_line(&mut line) {
                Ok(0) => return started.elapsed(),
                // The chunked body's last chunk: the stream is over.
                Ok(_) if line == "0\r\n" => return started.elapsed(),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("reading the stream: {e}"),
            }
        }
    }

    /// The next event's data as JSON; panics after 30 s without one.
    pub fn next(&mut self) -> serde_json::Value {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self
                .lines
                .read_line(&mut line)
                .expect("an event within 30 s");
            assert!(read > 0, "the stream ended");
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                return serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
            }
        }
    }
}

/// A parsed HTTP response.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
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
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn json(&self) -> serde_json::Value {
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
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        let _ = self.child.kill();
    }
}
