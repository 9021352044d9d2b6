//! Request counts and latency histograms by route and status, in Prometheus' text format.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// One time series: the route pattern (never the raw path, which would let any client create
/// unbounded series), the method and the status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// The methods HTTP defines (RFC 9110, and PATCH): any other token a client makes up is
/// counted as `OTHER`, so that requests cannot add series to `/metrics`.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn method_label(method: &str) -> &str {
    METHODS
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("OTHER")
}

/// Latency buckets in seconds, 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// The registry behind `/metrics`.
pub struct HttpMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "gantry_http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        registry.register(
            "gantry_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route pattern and status",
            latency.clone(),
        );
        HttpMetrics {
            registry,
            requests,
            latency,
        }
    }
}

impl HttpMetrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            method: method_label(method).to_string(),
            route: route.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Everything registered, then `more` (figures read at scrape time), in Prometheus'
    /// text exposition format.
    pub fn render(&self, more: &[Registry]) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        std::iter::once(&self.registry)
            .chain(more)
            .try_for_each(|registry| encode_registry(&mut out, registry))
            .and_then(|()| encode_eof(&mut out))
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_times_by_route_and_status() {
        let metrics = HttpMetrics::default();
        metrics.observe("GET", "/healthz", 200, Duration::from_millis(3));
        metrics.observe("GET", "/healthz", 200, Duration::from_millis(5));
        metrics.observe("GET", "/nodes", 404, Duration::from_millis(1));
        let text = metrics.render(&[]);
        assert!(
            text.contains(
                r#"gantry_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"gantry_http_request_duration_seconds_count{method="GET",route="/nodes",status="404"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn made_up_methods_share_one_series() {
        let metrics = HttpMetrics::default();
        for i in 0..10_000 {
            metrics.observe(&format!("M{i}"), "-", 405, Duration::from_millis(1));
        }
        metrics.observe("get", "-", 405, Duration::from_millis(1));
        let text = metrics.render(&[]);
        let series = text
            .lines()
            .filter(|l| l.starts_with("gantry_http_requests_total{"))
            .collect::<Vec<_>>();
        assert_eq!(
            series,
            [r#"gantry_http_requests_total{method="OTHER",route="-",status="405"} 10001"#],
            "{text}"
        );
    }
}
