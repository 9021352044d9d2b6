//! A model server's request metrics for each running pod of the serving namespace, and of
//! any namespace's pod annotated `gantry.dev/serving-rate` (its requests per second, for
//! tests that check the sums): a request counter by status code and a latency histogram, as
//! the serving area charts them.
//!
//! Counters must only grow, so each is a closed form of the time since the pod started
//! (a steady rate per pod, drawn from its name), not a running sum the process would lose
//! on restart.

use std::fmt::Write;

use k8s_openapi::api::core::v1::Pod;

use crate::noise::noise;

pub const REQUESTS: &str = "model_requests_total";
pub const LATENCY: &str = "model_request_duration_seconds";
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The latencies' spread (log-normal sigma).
const SIGMA: f64 = 0.5;
/// Share of requests that fail with a 500.
const ERRORS: f64 = 0.01;

/// The annotation that makes any pod a model server, with its requests per second.
pub const RATE: &str = "gantry.dev/serving-rate";

/// One serving pod as the metrics need it.
pub struct Server {
    pub namespace: String,
    pub pod: String,
    pub model: String,
    /// Seconds since the epoch.
    pub started: u64,
    /// Requests per second, when the pod's annotation sets it.
    pub rate: Option<f64>,
}

impl Server {
    /// `None` for a pod that is not running, or outside `namespace` and not annotated.
    pub fn of(pod: &Pod, namespace: &str) -> Option<Server> {
        let rate = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(RATE))
            .and_then(|r| r.parse::<f64>().ok())
            .filter(|r| r.is_finite() && *r >= 0.0);
        (rate.is_some() || pod.metadata.namespace.as_deref() == Some(namespace)).then_some(())?;
        let status = pod.status.as_ref()?;
        (status.phase.as_deref() == Some("Running")).then_some(())?;
        let started = status
            .start_time
            .as_ref()
            .or(pod.metadata.creation_timestamp.as_ref())?
            .0
            .as_second();
        let name = pod.metadata.name.clone()?;
        let labels = pod.metadata.labels.as_ref();
        let model = labels
            .and_then(|l| {
                l.get("serving.kserve.io/inferenceservice")
                    .or(l.get("app.kubernetes.io/name"))
            })
            .cloned()
            .unwrap_or_else(|| name.clone());
        Some(Server {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            pod: name,
            model,
            started: u64::try_from(started).unwrap_or(0),
            rate,
        })
    }

    fn draw(&self, seed: u64, what: &str) -> f64 {
        noise(&[
            &seed.to_le_bytes(),
            self.namespace.as_bytes(),
            self.pod.as_bytes(),
            what.as_bytes(),
        ])
    }

    /// Requests per second: as annotated, else 5 to 50.
    fn rate(&self, seed: u64) -> f64 {
        self.rate
            .unwrap_or_else(|| 5.0 + 45.0 * self.draw(seed, "rate"))
    }

    /// Median latency, 30 to 180 ms.
    fn median(&self, seed: u64) -> f64 {
        0.03 + 0.15 * self.draw(seed, "median")
    }
}

/// The standard normal CDF (Abramowitz and Stegun 7.1.26; error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The exposition of every server's series at `time`.
pub fn render(seed: u64, servers: &[Server], time: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP {REQUESTS} Inference requests served, by status code."
    );
    let _ = writeln!(out, "# TYPE {REQUESTS} counter");
    let mut histograms = String::new();
    let _ = writeln!(histograms, "# HELP {LATENCY} Inference request latency.");
    let _ = writeln!(histograms, "# TYPE {LATENCY} histogram");
    for s in servers {
        let labels = format!(
            "namespace=\"{}\",pod=\"{}\",model=\"{}\"",
            s.namespace, s.pod, s.model
        );
        let total = (s.rate(seed) * time.saturating_sub(s.started) as f64).floor();
        let failed = (total * ERRORS).floor();
        let _ = writeln!(
            out,
            "{REQUESTS}{{{labels},code=\"200\"}} {}",
            total - failed
        );
        let _ = writeln!(out, "{REQUESTS}{{{labels},code=\"500\"}} {failed}");
        let median = s.median(seed);
        for le in BUCKETS {
            let share = normal_cdf((le.ln() - median.ln()) / SIGMA);
            let _ = writeln!(
                histograms,
                "{LATENCY}_bucket{{{labels},le=\"{le}\"}} {}",
                (total * share).floor()
            );
        }
        let _ = writeln!(
            histograms,
            "{LATENCY}_bucket{{{labels},le=\"+Inf\"}} {total}"
        );
        let mean = median * (SIGMA * SIGMA / 2.0).exp();
        let _ = writeln!(histograms, "{LATENCY}_sum{{{labels}}} {:.3}", total * mean);
        let _ = writeln!(histograms, "{LATENCY}_count{{{labels}}} {total}");
    }
    out + &histograms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        Server {
            namespace: "ml-serving".into(),
            pod: "llama-chat-0".into(),
            model: "llama-chat".into(),
            started: 1_795_000_000,
            rate: None,
        }
    }

    fn sample(text: &str, prefix: &str) -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix}"))
    }

    #[test]
    fn counters_only_grow_and_buckets_are_cumulative() {
        let servers = [server()];
        let mut last = 0.0;
        for time in (1_795_000_000..1_795_000_600).step_by(60) {
            let text = render(3, &servers, time);
            let ok = sample(&text, &format!("{REQUESTS}{{namespace=\"ml-serving\""));
            assert!(ok >= last);
            last = ok;
            let buckets: Vec<f64> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{LATENCY}_bucket")))
                .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(buckets.len(), 12);
            assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        }
        assert!(last > 0.0);
    }

    #[test]
    fn the_cdf_is_right_where_it_is_known() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((normal_cdf(-1.96) - 0.025).abs() < 1e-4);
    }
}
