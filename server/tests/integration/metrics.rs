//! Node charts from the local cluster's real Prometheus, which scrapes the GPU simulator:
//! busy and free GPUs show as such, hostile input never reaches PromQL, many viewers cost
//! one query per chart and step, and a Prometheus that is missing or down is said so.

use std::time::Duration;

use crate::common::cluster::wait_for;
use crate::common::server::TestServer;

/// The cluster's Prometheus, when `make test` started one.
fn prometheus_url() -> Option<String> {
    let url = std::env::var("GANTRY_TEST_PROMETHEUS_URL").ok();
    if url.is_none() && std::env::var("GANTRY_TEST_REQUIRE_CLUSTER").as_deref() == Ok("1") {
        panic!("GANTRY_TEST_REQUIRE_CLUSTER=1 but GANTRY_TEST_PROMETHEUS_URL is not set");
    }
    url
}

/// Range queries Prometheus has answered so far, from its own `/metrics`.
fn range_queries(url: &str) -> u64 {
    let text = std::process::Command::new("curl")
        .args(["-fsS", &format!("{url}/metrics")])
        .output()
        .expect("curl")
        .stdout;
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && l.contains(r#"handler="/api/v1/query_range""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn latest(series: &serde_json::Value) -> f64 {
    series["points"].as_array().unwrap().last().unwrap()[1]
        .as_f64()
        .unwrap()
}

#[tokio::test]
async fn node_charts_show_busy_and_free_gpus_from_prometheus() {
    let Some(url) = prometheus_url() else {
        return;
    };
    let Some((server, cookie)) =
        TestServer::on_cluster_with("metrics", &[("GANTRY_PROMETHEUS_URL", &url)])
    else {
        return;
    };
    let auth = [("Cookie", cookie.as_str())];
    // The seeded fine-tune holds 4 of gpu-h100-0's 8 GPUs: the simulator keeps them busy.
    let path = "/api/v1/nodes/gpu-h100-0/metrics?range=15m";
    let metrics = wait_for(
        "Prometheus to have scraped the node's GPUs",
        Duration::from_secs(60),
        || async {
            let metrics = server.request("GET", path, "", &auth).json();
            let series = metrics["charts"][0]["series"].as_array()?.clone();
            let busy = series.iter().filter(|s| latest(s) >= 75.0).count();
            (series.len() == 8 && busy >= 4).then_some(metrics)
        },
    )
    .await;
    let utilisation = &metrics["charts"][0];
    assert_eq!(utilisation["id"], "utilisation");
    assert_eq!(utilisation["unit"], "%");
    assert!(utilisation["error"].is_null(), "{utilisation}");
    let series = utilisation["series"].as_array().unwrap();
    assert_eq!(series[0]["name"], "GPU 0");
    let busy = series.iter().filter(|s| latest(s) >= 75.0).count();
    let idle = series.iter().filter(|s| latest(s) <= 3.0).count();
    assert!(busy >= 4 && idle >= 1, "{utilisation}");
    assert_eq!(metrics["step_secs"], 15);
    assert!(metrics["dialect"].as_str().unwrap().contains("Hostname"));
    let ids: Vec<&str> = metrics["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["utilisation", "memory", "power", "temperature"]);

    // A MIG node's instances are charted from the engine ratio (they have no GPU_UTIL).
    let mig = server
        .request(
            "GET",
            "/api/v1/nodes/gpu-a100-mig-0/metrics?range=15m",
            "",
            &auth,
        )
        .json();
    let names: Vec<&str> = mig["charts"][0]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"GPU 0 · 1g.10gb #1"), "{names:?}");

    // The standalone chart, for portals.
    let svg = server.request(
        "GET",
        "/api/v1/nodes/gpu-h100-0/metrics/utilisation.svg?range=15m&theme=dark",
        "",
        &auth,
    );
    assert_eq!(svg.status, 200, "{}", svg.body);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.body.starts_with("<svg") && svg.body.contains("GPU 7"));

    // Fifty views of the same page cost one query per chart (two if a step ends meanwhile).
    let before = range_queries(&url);
    assert!(
        before > 0,
        "Prometheus' own count of the range queries it answered"
    );
    for _ in 0..50 {
        assert_eq!(server.request("GET", path, "", &auth).status, 200);
    }
    let sent = range_queries(&url) - before;
    println!("50 views of a node's charts: {sent} range queries to Prometheus");
    assert!(sent <= 8, "{sent} range queries for 50 views");

    // Hostile input is refused before any query; unknown nodes are not asked about.
    for (path, status) in [
        (
            "/api/v1/nodes/a%22%7D%20or%20vector(1)%20or%20%7Bx%3D%22/metrics",
            400,
        ),
        ("/api/v1/nodes/gpu-h100-0/metrics?range=1y", 400),
        ("/api/v1/nodes/no-such-node/metrics", 404),
        ("/api/v1/nodes/gpu-h100-0/metrics/nothing.svg", 404),
    ] {
        let answer = server.request("GET", path, "", &auth);
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
    }
    // Anonymous callers get a refusal and nothing else.
    let anonymous = server.get(path);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
}

#[tokio::test]
async fn without_prometheus_or_with_it_down_the_charts_say_why() {
    let Some((server, cookie)) = TestServer::on_cluster("metrics-off") else {
        return;
    };
    let auth = [("Cookie", cookie.as_str())];
    let path = "/api/v1/nodes/gpu-h100-0/metrics";
    let off = server.request("GET", path, "", &auth);
    assert_eq!(off.status, 200, "{}", off.body);
    assert!(off.json()["charts"].is_null());

    // Nothing listens on port 9 (discard): each chart carries the reason, the page stands.
    let Some((down, cookie)) = TestServer::on_cluster_with(
        "metrics-down",
        &[("GANTRY_PROMETHEUS_URL", "http://127.0.0.1:9")],
    ) else {
        return;
    };
    let auth = [("Cookie", cookie.as_str())];
    let answer = down.request("GET", path, "", &auth);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let metrics = answer.json();
    for chart in metrics["charts"].as_array().unwrap() {
        let reason = chart["error"].as_str().unwrap_or_default();
        assert!(reason.contains("could not be reached"), "{chart}");
    }
    let svg = down.request("GET", &format!("{path}/power.svg"), "", &auth);
    assert_eq!(svg.status, 503, "{}", svg.body);
    assert_eq!(
        down.request("GET", "/nodes/gpu-h100-0", "", &auth).status,
        200
    );
    assert_eq!(down.get("/readyz").status, 200);
}
