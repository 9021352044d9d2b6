//! Figures for the Serving area, printed for tools/bench/serving.sh (which starts the local
//! cluster, KServe and Gantry):
//!
//!   populate N NAMESPACES         N TF Serving Deployments (0 replicas) spread over
//!                                 NAMESPACES namespaces `bench-NN`, created with the admin's
//!                                 kubeconfig (KUBECONFIG).
//!   list BASE COOKIE CLIENTS SECS CLIENTS clients each asking for the list in a loop for SECS:
//!                                 latency percentiles and requests a second.
//!   rollout BASE COOKIE N         N scales of `ml-serving/resnet` through the API, each timed
//!                                 from the POST's answer to the service's open stream
//!                                 showing the new desired count.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{json, Value};
use support::{percentiles, Error, Events};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["populate", n, namespaces] => populate(Client::try_default().await?, n.parse()?, namespaces.parse()?).await,
        ["list", base, cookie, clients, secs] => list(base, cookie, clients.parse()?, secs.parse()?).await,
        ["rollout", base, cookie, n] => rollout(base, cookie, n.parse()?).await,
        _ => Err("usage: serving populate N NAMESPACES | list BASE COOKIE CLIENTS SECS | rollout BASE COOKIE N".into()),
    }
}

async fn populate(client: Client, n: usize, namespaces: usize) -> Result<(), Error> {
    let started = Instant::now();
    for i in 0..namespaces {
        let namespace: Namespace =
            serde_json::from_value(json!({ "metadata": { "name": format!("bench-{i:02}") } }))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
    }
    let mut created = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let name = format!("model-{i:04}");
                let deployment: Deployment = serde_json::from_value(json!({
                    "metadata": { "name": name },
                    "spec": {
                        "replicas": 0,
                        "selector": { "matchLabels": { "app": name } },
                        "template": {
                            "metadata": { "labels": { "app": name } },
                            "spec": { "containers": [{ "name": "serving", "image": "tensorflow/serving:2.15.0",
                                "args": [format!("--model_base_path=s3://bench/{name}/1")] }] }
                        }
                    }
                }))?;
                Api::<Deployment>::namespaced(client, &format!("bench-{:02}", i % namespaces))
                    .create(&PostParams::default(), &deployment)
                    .await?;
                Ok::<_, Error>(())
            }
        })
        .buffer_unordered(16);
    while let Some(done) = created.next().await {
        done?;
    }
    println!(
        "populate: {n} Deployments in {namespaces} namespaces in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One GET on a fresh connection; the time to the whole answer.
async fn get(base: &str, path: &str, cookie: &str) -> Result<(Duration, usize), Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    if !answer.starts_with(b"HTTP/1.1 200") {
        return Err(format!(
            "{path}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        )
        .into());
    }
    Ok((started.elapsed(), answer.len()))
}

async fn list(base: &str, cookie: &str, clients: usize, secs: u64) -> Result<(), Error> {
    let (_, bytes) = get(base, "/api/v1/services", cookie).await?;
    let until = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (base, cookie) = (base.to_string(), cookie.to_string());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < until {
                    samples.push(get(&base, "/api/v1/services", &cookie).await?.0);
                }
                Ok::<_, Error>(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await??);
    }
    println!(
        "list: {} requests in {secs} s ({:.0}/s), {bytes} bytes each",
        samples.len(),
        samples.len() as f64 / secs as f64
    );
    percentiles(&format!("the services list at {clients} clients"), samples);
    Ok(())
}

async fn rollout(base: &str, cookie: &str, n: usize) -> Result<(), Error> {
    let path = "/api/v1/services/deployment/ml-serving/resnet";
    let mut events = Events::open(base, &format!("{path}/stream"), cookie).await?;
    let mut detail: Value = events.next().await?["Ok"].take();
    let mut samples = Vec::new();
    for _ in 0..n {
        // Between one and two replicas, so kwok's pods come and go quickly.
        let replicas = if detail["row"]["replicas"]["desired"] == 1 {
            2
        } else {
            1
        };
        let body = json!({ "replicas": replicas, "generation": detail["generation"] });
        post(base, &format!("{path}/scale"), cookie, &body).await?;
        let answered = Instant::now();
        loop {
            detail = events.next().await?["Ok"].take();
            if detail["row"]["replicas"]["desired"] == replicas {
                samples.push(answered.elapsed());
                break;
            }
        }
    }
    percentiles("scale answered → the open service page shows it", samples);
    Ok(())
}

async fn post(base: &str, path: &str, cookie: &str, body: &Value) -> Result<(), Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {base}\r\nCookie: {cookie}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    if !answer.starts_with(b"HTTP/1.1 204") {
        return Err(format!("{path}: {}", String::from_utf8_lossy(&answer)).into());
    }
    Ok(())
}
