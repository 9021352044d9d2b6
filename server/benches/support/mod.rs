//! What the benchmark clients share: percentiles, and reading Gantry's event streams.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Prints `samples` as `n=… p50=… p90=… p95=… p99=… max=…` in milliseconds.
pub fn percentiles(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    if samples.is_empty() {
        println!("{what}: no samples");
        return;
    }
    println!(
        "{what}: n={} p50={:.1} ms p90={:.1} ms p95={:.1} ms p99={:.1} ms max={:.1} ms",
        samples.len(),
        at(0.50),
        at(0.90),
        at(0.95),
        at(0.99),
        at(1.0)
    );
}

/// Reads `data:` lines of an event stream; each is one JSON message.
pub struct Events {
    lines: BufReader<tokio::net::TcpStream>,
}

impl Events {
    pub async fn open(base: &str, path: &str, cookie: &str) -> Result<Events, Error> {
        let host = base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        Ok(Events {
            lines: BufReader::new(stream),
        })
    }

    pub async fn next(&mut self) -> Result<serde_json::Value, Error> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.lines.read_line(&mut line).await? == 0 {
                return Err("the stream ended".into());
            }
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                return Ok(serde_json::from_str(data)?);
            }
        }
    }
}
