//! Spawns the real server on port 0 with a fresh SQLite database and checks its probes.

use std::collections::HashMap;
use std::net::SocketAddr;

use gantry_server::Config;
use tokio::sync::oneshot;

struct TestServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    _data: tempfile::TempDir,
}

impl TestServer {
    /// A server with its own data directory and a kubeconfig that does not exist, so the
    /// cluster is "not connected" for a known reason.
    async fn spawn() -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let settings: HashMap<&str, String> = HashMap::from([
            ("GANTRY_LISTEN_ADDR", "127.0.0.1:0".to_string()),
            ("GANTRY_DATA_DIR", data.path().display().to_string()),
            ("KUBECONFIG", "/nonexistent/kubeconfig".to_string()),
            ("GANTRY_SHUTDOWN_TIMEOUT_SECS", "2".to_string()),
        ]);
        let config = Config::resolve(|key| settings.get(key).cloned()).unwrap();
        let state = gantry_server::build_state(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen_addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            gantry_server::serve(&config, state, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        TestServer {
            addr,
            stop,
            done,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.done.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::spawn().await;
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    server.stop().await;
}

#[tokio::test]
async fn readyz_reports_each_dependency_and_why_it_is_not_ready() {
    let server = TestServer::spawn().await;
    let response = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["database"]["ok"], true, "{body}");
    assert_eq!(body["kubernetes"]["ok"], false, "{body}");
    let reason = body["kubernetes"]["reason"].as_str().unwrap();
    assert!(reason.contains("/nonexistent/kubeconfig"), "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let server = TestServer::spawn().await;
    for _ in 0..3 {
        reqwest::get(server.url("/healthz")).await.unwrap();
    }
    reqwest::get(server.url("/no/such/page")).await.unwrap();
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"gantry_http_requests_total{method="GET",route="/healthz",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"gantry_http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"gantry_http_request_duration_seconds_bucket{le="0.001""#),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn pages_are_server_rendered_with_the_not_connected_banner() {
    let server = TestServer::spawn().await;
    let response = reqwest::get(server.url("/nodes")).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>GPU nodes</h1>"), "{html}");
    assert!(html.contains("Not connected to Kubernetes"), "{html}");

    let missing = reqwest::get(server.url("/no/such/page")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("this page not found"));
    server.stop().await;
}

#[tokio::test]
async fn server_functions_answer_over_http() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let ok = client
        .post(server.url("/api/cluster-status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&ok.text().await.unwrap()).unwrap();
    assert_eq!(body["state"], "not_connected", "{body}");
    server.stop().await;
}

#[tokio::test]
async fn the_database_is_migrated_and_in_wal_mode() {
    let server = TestServer::spawn().await;
    let db = server._data.path().join("gantry.db");
    assert!(db.exists());
    // WAL mode keeps a -wal file beside the database while it is open.
    assert!(server._data.path().join("gantry.db-wal").exists());
    server.stop().await;
}
