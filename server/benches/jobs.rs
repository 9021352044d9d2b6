//! Figures for training jobs, printed for tools/bench/jobs.sh (which starts the local
//! cluster and Gantry):
//!
//!   submit BASE COOKIE N        N launches through Gantry's API, each timed from the POST
//!                               returning to the jobs stream showing the job.
//!   churn BASE COOKIE N         N Jobs created at once (kwok runs each 5–24 s), every
//!                               status change timed from a watch seeing it to the jobs
//!                               stream showing it.
//!   logs BASE COOKIE JOB SECS   Reads the job's log stream for SECS and prints lines per
//!                               second (tools/bench/jobs.sh writes 1,000 a second).
//!   write-log FILE RATE SECS    Appends RATE CRI-format lines a second to FILE.
//!
//! Jobs go to namespace `bench`. KUBECONFIG names the cluster.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use futures::StreamExt;
use gantry_app::jobs::info::phase;
use k8s_openapi::api::batch::v1::Job;
use kube::api::PostParams;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::{json, Value};
use support::{percentiles, Error, Events};

const NAMESPACE: &str = "bench";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["submit", base, cookie, n] => submit(base, cookie, n.parse()?).await,
        ["churn", base, cookie, n] => churn(Client::try_default().await?, base, cookie, n.parse()?).await,
        ["logs", base, cookie, job, secs] => logs(base, cookie, job, secs.parse()?).await,
        ["write-log", file, rate, secs] => write_log(file, rate.parse()?, secs.parse()?),
        _ => Err("usage: jobs submit|churn BASE COOKIE N | logs BASE COOKIE JOB SECS | write-log FILE RATE SECS".into()),
    }
}

fn rows(update: &Value) -> impl Iterator<Item = &Value> {
    update["Ok"]["rows"].as_array().into_iter().flatten()
}

/// Launches through the JSON API with a raw HTTP/1.1 request (the cookie's session).
async fn post_job(base: &str, cookie: &str, form: &Value) -> Result<(), Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let body = form.to_string();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "POST /api/v1/jobs HTTP/1.1\r\nHost: {host}\r\nOrigin: {base}\r\nCookie: {cookie}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    if !answer.starts_with("HTTP/1.1 201") {
        return Err(format!(
            "launch refused: {}",
            answer.lines().next().unwrap_or_default()
        )
        .into());
    }
    Ok(())
}

async fn submit(base: &str, cookie: &str, n: usize) -> Result<(), Error> {
    let mut events = Events::open(
        base,
        &format!("/api/v1/jobs/stream?namespace={NAMESPACE}"),
        cookie,
    )
    .await?;
    events.next().await?;
    let mut samples = Vec::new();
    for i in 0..n {
        let name = format!("submit-{i:03}");
        let form = json!({
            "name": name, "namespace": NAMESPACE,
            "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
            "gpus": "0", "cpu_request": "1", "memory_request": "1Gi",
            "annotations": [{ "key": "pod-complete.stage.kwok.x-k8s.io/delay", "value": "1h" }]
        });
        post_job(base, cookie, &form).await?;
        let submitted = Instant::now();
        loop {
            let update = events.next().await?;
            if rows(&update).any(|r| r["name"] == name) {
                samples.push(submitted.elapsed());
                break;
            }
        }
    }
    percentiles("launch answered → job in the open list", samples);
    Ok(())
}

async fn churn(client: Client, base: &str, cookie: &str, n: usize) -> Result<(), Error> {
    let jobs: Api<Job> = Api::namespaced(client, NAMESPACE);
    let watched = jobs.clone();
    // When a watch saw each (job, phase), and when the stream showed it.
    let seen: std::sync::Arc<std::sync::Mutex<HashMap<(String, String), Instant>>> =
        Default::default();
    let watch_seen = seen.clone();
    let watch = tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher::watcher(
            watched,
            watcher::Config::default().labels("bench=churn")
        ));
        while let Some(event) = events.next().await {
            if let Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) = event {
                let name = job.metadata.name.clone().unwrap_or_default();
                let (phase, _) = phase(&job);
                watch_seen
                    .lock()
                    .unwrap()
                    .entry((name, phase.as_str().to_string()))
                    .or_insert_with(Instant::now);
            }
        }
    });
    let mut stream = Events::open(
        base,
        &format!("/api/v1/jobs/stream?namespace={NAMESPACE}&search=churn-"),
        cookie,
    )
    .await?;
    stream.next().await?;
    for i in 0..n {
        let job: Job = serde_json::from_value(json!({
            "metadata": { "name": format!("churn-{i:03}"), "labels": { "bench": "churn" } },
            "spec": { "backoffLimit": 0, "template": {
                "metadata": { "annotations": { "pod-complete.stage.kwok.x-k8s.io/delay": format!("{}s", 5 + i % 20) } },
                "spec": { "restartPolicy": "Never", "containers": [{ "name": "main",
                    "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                    "resources": { "requests": { "cpu": "100m" } } }] } } }
        }))?;
        jobs.create(&PostParams::default(), &job).await?;
    }
    let mut shown: HashMap<(String, String), Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        let update = tokio::time::timeout(Duration::from_secs(30), stream.next()).await??;
        let now = Instant::now();
        let mut done = 0;
        for row in rows(&update) {
            let key = (
                row["name"].as_str().unwrap_or_default().to_string(),
                row["phase"].as_str().unwrap_or_default().to_string(),
            );
            done += usize::from(key.1 == "Succeeded");
            shown.entry(key).or_insert(now);
        }
        if done == n {
            break;
        }
    }
    watch.abort();
    let seen = seen.lock().unwrap();
    let samples: Vec<Duration> = shown
        .iter()
        .filter_map(|(key, at)| Some(at.saturating_duration_since(*seen.get(key)?)))
        .collect();
    println!(
        "churn: {n} jobs, {} status changes seen by both the watch and the page",
        samples.len()
    );
    percentiles("status change (watch) → open list shows it", samples);
    Ok(())
}

async fn logs(base: &str, cookie: &str, job: &str, secs: u64) -> Result<(), Error> {
    let mut events = Events::open(
        base,
        &format!("/api/v1/jobs/{NAMESPACE}/{job}/logs?tail=0"),
        cookie,
    )
    .await?;
    let started = Instant::now();
    let mut lines = 0u64;
    let mut per_second = Vec::new();
    let mut second = Instant::now();
    let mut in_second = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), events.next()).await else {
            break;
        };
        lines += 1;
        in_second += 1;
        if second.elapsed() >= Duration::from_secs(1) {
            per_second.push(in_second);
            in_second = 0;
            second = Instant::now();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    per_second.sort_unstable();
    println!(
        "logs: {lines} lines in {elapsed:.1} s = {:.0} lines/s through Gantry's stream (slowest second {}, fastest {})",
        lines as f64 / elapsed,
        per_second.first().copied().unwrap_or(0),
        per_second.last().copied().unwrap_or(0)
    );
    Ok(())
}

/// Appends `rate` lines a second for `secs` seconds, in batches every 10 ms.
fn write_log(file: &str, rate: u64, secs: u64) -> Result<(), Error> {
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)?;
    let started = Instant::now();
    let mut written = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        let mut batch = String::new();
        for n in written..due {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
            batch.push_str(&format!(
                "2026-11-29T00:00:00.{:09}Z stdout F bench line {n} at {} ms\n",
                now.subsec_nanos(),
                now.as_millis()
            ));
        }
        out.write_all(batch.as_bytes())?;
        written = due;
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
