//! Charts from known series: a Prometheus of the test's own, loaded by promtool from an
//! OpenMetrics file the test wrote (as the metrics benchmark loads its week of GPUs), gives
//! Gantry exactly those samples; the JSON has each point and the SVG draws each line where
//! its values say.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::cluster::cluster_setting;
use crate::common::server::TestServer;

/// The local cluster's binaries (promtool, prometheus), when `make test` built them.
fn cluster_bin() -> Option<PathBuf> {
    cluster_setting("GANTRY_TEST_CLUSTER_BIN").map(PathBuf::from)
}

/// A Prometheus serving only the blocks promtool made of `series`; stopped when dropped.
struct Backfilled {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Backfilled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn backfilled(bin: &std::path::Path, series: &str) -> Backfilled {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("series.om");
    std::fs::write(&input, series).unwrap();
    let tsdb = dir.path().join("tsdb");
    let made = Command::new(bin.join("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .args([&input, &tsdb])
        .output()
        .unwrap();
    assert!(made.status.success(), "promtool: {made:?}");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global: {}\n").unwrap();
    // A port that was free a moment ago: Prometheus refusing it fails the test loudly.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin.join("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=30d")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let prometheus = Backfilled {
        url: format!("http://127.0.0.1:{port}"),
        child,
        _dir: dir,
    };
    let started = Instant::now();
    while !Command::new("curl")
        .args([
            "-fs",
            "-o",
            "/dev/null",
            &format!("{}/-/ready", prometheus.url),
        ])
        .status()
        .unwrap()
        .success()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Prometheus not ready in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    prometheus
}

/// GPU 0 of gpu-h100-0 at 40 % until `mid`, 80 % from it; GPU 1 at 5 % throughout; a sample
/// every 15 s (the chart's step) from `from` to `to`.
fn known_series(from: i64, mid: i64, to: i64) -> String {
    let labels = |gpu: u32| {
        format!(
            r#"gpu="{gpu}",UUID="GPU-0000000{gpu}",device="nvidia{gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="gpu-h100-0""#
        )
    };
    let mut text = String::from("# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n");
    for gpu in [0, 1] {
        for t in (from..to).step_by(15) {
            let value = match (gpu, t < mid) {
                (0, true) => 40,
                (0, false) => 80,
                _ => 5,
            };
            text += &format!("DCGM_FI_DEV_GPU_UTIL{{{}}} {value} {t}\n", labels(gpu));
        }
    }
    text + "# EOF\n"
}

/// The points of each line of an SVG chart, as (x, y) pixels.
fn lines(svg: &str) -> Vec<Vec<(f64, f64)>> {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|element| {
            let points = element.split("points=\"").nth(1)?.split('"').next()?;
            let parsed: Vec<(f64, f64)> = points
                .split_whitespace()
                .filter_map(|p| {
                    let (x, y) = p.split_once(',')?;
                    Some((x.parse().ok()?, y.parse().ok()?))
                })
                .collect();
            (parsed.len() > 2).then_some(parsed)
        })
        .collect()
}

#[tokio::test]
async fn known_series_give_known_points_in_the_json_and_the_svg() {
    let Some(bin) = cluster_bin() else {
        return;
    };
    let now = gantry_app::time::unix_now() as i64;
    // Two hours ago, on a 15 s step: 30 minutes at 40 %, then 30 minutes at 80 %.
    let mid = (now - 7200) / 15 * 15;
    let (from, to) = (mid - 1800, mid + 1800);
    let prometheus = backfilled(&bin, &known_series(from - 600, mid, to + 600));
    let Some((server, cookie)) = TestServer::on_cluster_with(
        "metrics-backfill",
        &[("GANTRY_PROMETHEUS_URL", &prometheus.url)],
    ) else {
        return;
    };
    let auth = [("Cookie", cookie.as_str())];
    let path = "/api/v1/nodes/gpu-h100-0/metrics";
    let range = format!("from={from}&to={to}");

    let answer = server.request("GET", &format!("{path}?{range}"), "", &auth);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let metrics = answer.json();
    assert_eq!(metrics["range"], "custom");
    assert_eq!(metrics["step_secs"], 15);
    let utilisation = &metrics["charts"][0];
    assert_eq!(utilisation["id"], "utilisation", "{utilisation}");
    let series = utilisation["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{utilisation}");
    for s in series {
        let gpu0 = s["name"] == "GPU 0";
        let points = s["points"].as_array().unwrap();
        // Every step from `from` to `to`, both included.
        assert_eq!(points.len(), 241, "{}", s["name"]);
        for (i, point) in points.iter().enumerate() {
            let (t, v) = (point[0].as_i64().unwrap(), point[1].as_f64().unwrap());
            assert_eq!(t, from + 15 * i as i64);
            let expected = match (gpu0, t < mid) {
                (true, true) => 40.0,
                (true, false) => 80.0,
                (false, _) => 5.0,
            };
            assert_eq!(v, expected, "{} at {t}", s["name"]);
        }
    }

    let svg = server.request("GET", &format!("{path}/utilisation.svg?{range}"), "", &auth);
    assert_eq!(svg.status, 200, "{}", svg.body);
    let drawn = lines(&svg.body);
    assert_eq!(drawn.len(), 2, "one line per GPU");
    let heights = |line: &[(f64, f64)]| {
        let mut ys: Vec<i64> = line.iter().map(|p| p.1.round() as i64).collect();
        ys.dedup();
        ys
    };
    // Taller is smaller y: GPU 0 steps up once, at the middle; GPU 1 stays low and flat.
    let (step, flat) = match (heights(&drawn[0]), heights(&drawn[1])) {
        (a, b) if a.len() == 2 => (a, b),
        (a, b) => (b, a),
    };
    assert_eq!(step.len(), 2, "{step:?}");
    assert!(step[1] < step[0], "{step:?}");
    assert_eq!(flat.len(), 1, "{flat:?}");
    assert!(flat[0] > step[0], "5 % below 40 %: {flat:?} {step:?}");
    // The step is halfway along: the first 80 % point is the 121st of 241.
    let (x0, x_end) = (drawn[0][0].0, drawn[0].last().unwrap().0);
    let up = drawn
        .iter()
        .find(|l| heights(l).len() == 2)
        .unwrap()
        .iter()
        .find(|p| p.1.round() as i64 == step[1])
        .unwrap()
        .0;
    let along = (up - x0) / (x_end - x0);
    assert!(
        (along - 0.5).abs() < 0.01,
        "the step at {along:.3} of the width"
    );
}
