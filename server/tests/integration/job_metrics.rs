//! A job's GPU charts and its kept GPU use, from the local cluster's real Prometheus: a job
//! whose pods the simulator keeps at 60 % is charted per pod and GPU while it runs; when it
//! has ended (and its Job is gone) its GPU-hours and mean utilisation are in its history row
//! and the jobs list; the fleet chart counts its GPUs; a user who may not list the
//! namespace's pods gets a refusal, not series.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::cluster::{connect, wait_for};
use crate::common::fixtures::IMAGE;
use crate::common::server::TestServer;

fn chart<'a>(metrics: &'a Value, id: &str) -> &'a Value {
    metrics["charts"]
        .as_array()
        .and_then(|charts| charts.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no chart {id}: {metrics}"))
}

#[tokio::test]
async fn a_jobs_gpus_are_charted_while_it_runs_and_its_gpu_use_is_kept_after() {
    let Some(url) = crate::metrics::prometheus_url() else {
        return;
    };
    let Some(test) = connect("job-metrics").await else {
        return;
    };
    let Some((server, cookie)) = TestServer::on_cluster_with(
        "job-metrics",
        &[
            ("GANTRY_PROMETHEUS_URL", &url),
            ("GANTRY_JOB_GPU_USE_DELAY_SECS", "5"),
        ],
    ) else {
        return;
    };
    let origin = server.base.clone();
    let auth = [("Cookie", cookie.as_str())];
    let ns = test.namespace.as_str();
    let launched = Instant::now();
    // Made with kubectl's rights, not Gantry's form: the simulator's pattern annotation is
    // under gantry.dev/, which the form keeps for Gantry.
    let job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(json!({
        "metadata": { "name": "sixty" },
        "spec": {
            "ttlSecondsAfterFinished": 0,
            "template": {
                "metadata": { "annotations": {
                    "gantry.dev/gpu-pattern": "60",
                    "pod-complete.stage.kwok.x-k8s.io/delay": "45s"
                }},
                "spec": {
                    "restartPolicy": "Never",
                    // Off the H100s, whose idle GPUs the node charts' test counts.
                    "nodeSelector": { "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB" },
                    "containers": [{
                        "name": "main", "image": IMAGE,
                        "resources": { "limits": { "nvidia.com/gpu": "2" } }
                    }]
                }
            }
        }
    }))
    .unwrap();
    kube::Api::<k8s_openapi::api::batch::v1::Job>::namespaced(test.client.clone(), ns)
        .create(&kube::api::PostParams::default(), &job)
        .await
        .unwrap();

    // While it runs: one series per pod and GPU, at the simulator's 60 %.
    let path = format!("/api/v1/jobs/{ns}/sixty/metrics?range=15m");
    let metrics = wait_for(
        "Prometheus to have the job's GPUs",
        Duration::from_secs(45),
        || async {
            let metrics = server.request("GET", &path, "", &auth).json();
            let series = chart(&metrics, "utilisation")["series"].as_array()?.clone();
            (series.len() == 2).then_some(metrics)
        },
    )
    .await;
    assert_eq!(metrics["subject"], format!("{ns}/sixty"));
    for series in chart(&metrics, "utilisation")["series"].as_array().unwrap() {
        let name = series["name"].as_str().unwrap();
        assert!(
            name.starts_with("sixty-") && name.contains("· GPU "),
            "{name}"
        );
        let value = series["points"].as_array().unwrap().last().unwrap()[1]
            .as_f64()
            .unwrap();
        assert!((50.0..=70.0).contains(&value), "{name}: {value}");
    }
    assert_eq!(
        chart(&metrics, "memory")["series"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let svg = server.request(
        "GET",
        &format!("/api/v1/jobs/{ns}/sixty/metrics/utilisation.svg?range=15m&theme=dark"),
        "",
        &auth,
    );
    assert_eq!(svg.status, 200, "{}", svg.body);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.body.contains("sixty-"));

    // The fleet counts its two GPUs as allocated and busy.
    let fleet = server
        .request("GET", "/api/v1/fleet/metrics?range=15m", "", &auth)
        .json();
    let fleet_series = chart(&fleet, "fleet")["series"].as_array().unwrap().clone();
    let latest = |name: &str| {
        fleet_series
            .iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["points"].as_array()?.last()?[1].as_f64())
            .unwrap_or_else(|| panic!("no {name} series: {fleet}"))
    };
    assert!(latest("GPUs") >= latest("Allocated") && latest("Allocated") >= 2.0);
    assert!(latest("Busy") >= 2.0, "{fleet}");

    // Refused before any query: bad ranges name their field; an unknown job is a 404.
    for (query, field) in [
        ("range=1y", "range"),
        ("from=yesterday&to=1795978800", "from"),
        ("from=1795978800", "to"),
    ] {
        let refused = server.request(
            "GET",
            &format!("/api/v1/jobs/{ns}/sixty/metrics?{query}"),
            "",
            &auth,
        );
        assert_eq!(refused.status, 400, "{query}: {}", refused.body);
        assert!(refused.body.contains(field), "{query}: {}", refused.body);
    }
    let unknown = server.request("GET", &format!("/api/v1/jobs/{ns}/nope/metrics"), "", &auth);
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // Alice may list pods in team-a only: this namespace's job is refused, not charted.
    let made = server.request(
        "POST",
        "/api/accounts/create",
        "username=alice&display_name=Alice&password=alice+long+password&role=data-scientist&namespaces=*",
        &[("Cookie", &cookie), ("Origin", &origin)],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let alice = server.login_as("alice", "alice long password");
    for path in [
        format!("/api/v1/jobs/{ns}/sixty/metrics"),
        format!("/api/v1/jobs/{ns}/sixty/metrics/utilisation.svg"),
    ] {
        let theirs = server.request("GET", &path, "", &[("Cookie", alice.as_str())]);
        assert_eq!(theirs.status, 403, "{path}: {}", theirs.body);
        assert!(!theirs.body.contains("sixty-"), "{}", theirs.body);
    }

    // After it ended and the TTL removed it: the history row keeps its GPU use.
    let row = wait_for(
        "the job's GPU use to be measured",
        Duration::from_secs(120),
        || async {
            let list = server
                .request("GET", &format!("/api/v1/jobs?namespace={ns}"), "", &auth)
                .json();
            list.as_array()?
                .iter()
                .find(|r| r["name"] == "sixty" && !r["gpu_use"].is_null())
                .cloned()
        },
    )
    .await;
    println!(
        "GPU use kept {} s after launch: {}",
        launched.elapsed().as_secs(),
        row["gpu_use"]
    );
    assert_eq!(row["phase"], "Succeeded", "{row}");
    let mean = row["gpu_use"]["mean_percent"].as_f64().unwrap();
    let hours = row["gpu_use"]["gpu_hours"].as_f64().unwrap();
    assert!((50.0..=70.0).contains(&mean), "{row}");
    // Two GPUs for about 45 s (a scrape either side): 0.025 GPU-hours.
    assert!((0.015..=0.05).contains(&hours), "{row}");
    // The whole run, by default, even once the Job is gone.
    let run = server
        .request(
            "GET",
            &format!("/api/v1/jobs/{ns}/sixty/metrics"),
            "",
            &auth,
        )
        .json();
    assert_eq!(run["range"], "run", "{run}");
    assert!(!chart(&run, "utilisation")["series"]
        .as_array()
        .unwrap()
        .is_empty());
}
