//! Node charts from the local cluster's real Prometheus, which scrapes the GPU simulator:
//! busy and free GPUs show as such, hostile input never reaches PromQL, many viewers cost
//! one query per chart and step, and a Prometheus that is missing or down is said so.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;

use crate::common::cluster::{cluster_setting, connect, wait_for};
use crate::common::fixtures::gpu_pod;
use crate::common::server::TestServer;

/// The cluster's Prometheus, when `make test` started one.
pub fn prometheus_url() -> Option<String> {
    cluster_setting("GANTRY_TEST_PROMETHEUS_URL")
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
    let Some(test) = connect("metrics").await else {
        return;
    };
    let Some((server, cookie)) =
        TestServer::on_cluster_with("metrics", &[("GANTRY_PROMETHEUS_URL", &url)])
    else {
        return;
    };
    let auth = [("Cookie", cookie.as_str())];
    // The seeded fine-tune holds 4 of an H100 node's 8 GPUs (the scheduler picks which
    // node): the simulator keeps them busy.
    let team_a: Api<Pod> = Api::namespaced(test.client.clone(), "team-a");
    let node = wait_for(
        "the fine-tune's pod to be bound",
        Duration::from_secs(30),
        || async {
            let pods = team_a
                .list(&kube::api::ListParams::default().labels("job-name=llama-finetune"))
                .await
                .ok()?;
            pods.items.into_iter().find_map(|p| p.spec?.node_name)
        },
    )
    .await;
    let path = format!("/api/v1/nodes/{node}/metrics?range=15m");
    let path = path.as_str();
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
        &format!("/api/v1/nodes/{node}/metrics/utilisation.svg?range=15m&theme=dark"),
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

/// A pod that holds two GPUs and never uses them (the simulator's `idle` pattern) shows in
/// the "allocated but idle" table once the window (1 minute here) has passed, with its GPUs
/// and idle GPU-hours; the busy fine-tune never does; a data scientist bound to team-a sees
/// only a count of it.
#[tokio::test]
async fn a_pod_holding_gpus_it_does_not_use_is_listed_as_idle() {
    let Some(url) = prometheus_url() else {
        return;
    };
    let Some(test) = connect("metrics-idle").await else {
        return;
    };
    let Some((server, cookie)) = TestServer::on_cluster_with(
        "metrics-idle",
        &[
            ("GANTRY_PROMETHEUS_URL", &url),
            ("GANTRY_IDLE_MINUTES", "1"),
        ],
    ) else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(test.client.clone(), &test.namespace);
    let mut pod = gpu_pod("holds-two", 2, Some("gpu-h100-1"));
    pod.metadata.annotations =
        Some([("gantry.dev/gpu-pattern".to_string(), "idle".to_string())].into());
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let auth = [("Cookie", cookie.as_str())];
    let ours = |idle: &serde_json::Value| {
        idle["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["pod"] == "holds-two" && r["namespace"] == test.namespace.as_str())
            .cloned()
    };
    let started = std::time::Instant::now();
    let (idle, row) = wait_for(
        "the idle pod to pass the 1-minute window",
        Duration::from_secs(180),
        || async {
            let idle = server.request("GET", "/api/v1/gpu-idle", "", &auth).json();
            let row = ours(&idle)?;
            Some((idle, row))
        },
    )
    .await;
    println!(
        "idle pod listed {} s after it was created",
        started.elapsed().as_secs()
    );
    assert!(
        started.elapsed() >= Duration::from_secs(55),
        "listed before its window passed"
    );
    assert_eq!(row["gpus"], 2, "{row}");
    assert_eq!(row["node"], "gpu-h100-1");
    assert!(row["busiest_percent"].as_f64().unwrap() < 5.0, "{row}");
    assert!((row["idle_gpu_hours"].as_f64().unwrap() - 2.0 / 60.0).abs() < 1e-9);
    assert_eq!(
        (idle["percent"].as_u64(), idle["minutes"].as_u64()),
        (Some(5), Some(1))
    );
    let rows = idle["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|r| !r["pod"].as_str().unwrap().starts_with("llama-finetune")),
        "the busy fine-tune is not idle: {idle}"
    );

    // The least-privileged view: alice may list pods in team-a only.
    let origin = server.base.clone();
    let created = server.request(
        "POST",
        "/api/accounts/create",
        "username=alice&display_name=Alice&password=alice+long+password&role=data-scientist&namespaces=*",
        &[("Cookie", &cookie), ("Origin", &origin)],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let alice = server.login_as("alice", "alice long password");
    let theirs = server
        .request("GET", "/api/v1/gpu-idle", "", &[("Cookie", alice.as_str())])
        .json();
    assert!(ours(&theirs).is_none(), "{theirs}");
    assert!(theirs["hidden"].as_u64().unwrap() >= 1, "{theirs}");
    assert!(!theirs.to_string().contains(&test.namespace));

    pods.delete("holds-two", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
}

/// A GPU that reports an XID error fires the local rules' `GpuXidError`, which the node's
/// alerts show (and another node's do not); a hostile `node` parameter is refused.
#[tokio::test]
async fn an_xid_error_fires_its_alert_for_its_node() {
    let Some(url) = prometheus_url() else {
        return;
    };
    let Some(test) = connect("metrics-alerts").await else {
        return;
    };
    let Some((server, cookie)) =
        TestServer::on_cluster_with("metrics-alerts", &[("GANTRY_PROMETHEUS_URL", &url)])
    else {
        return;
    };
    let auth = [("Cookie", cookie.as_str())];
    let nodes: Api<Node> = Api::all(test.client.clone());
    let node = "gpu-a100-2";
    let xid = |value: Option<&str>| {
        Patch::Merge(
            serde_json::json!({ "metadata": { "annotations": { "gantry.dev/gpu-xid": value } } }),
        )
    };
    nodes
        .patch(node, &PatchParams::default(), &xid(Some("79")))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let alert = wait_for("the XID alert to fire", Duration::from_secs(90), || async {
        let alerts = server
            .request("GET", &format!("/api/v1/alerts?node={node}"), "", &auth)
            .json();
        alerts["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["name"] == "GpuXidError" && a["state"] == "firing")
            .cloned()
    })
    .await;
    println!(
        "XID alert shown {} s after the GPU reported it",
        started.elapsed().as_secs()
    );
    assert_eq!(alert["node"], node);
    assert_eq!(alert["severity"], "critical");
    assert!(
        alert["summary"].as_str().unwrap().contains("XID 79"),
        "{alert}"
    );
    let other = server
        .request("GET", "/api/v1/alerts?node=gpu-a100-1", "", &auth)
        .json();
    assert!(
        other["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["node"] == "gpu-a100-1"),
        "{other}"
    );
    let hostile = server.request("GET", "/api/v1/alerts?node=a%22%7Dor", "", &auth);
    assert_eq!(hostile.status, 400, "{}", hostile.body);
    nodes
        .patch(node, &PatchParams::default(), &xid(None))
        .await
        .unwrap();
}
