//! Gantry's Prometheus client (server only): every query has a deadline, answers are shared
//! per (query, range, step) so that fifty people on one page cost one query per step, and
//! the exporter's label set is detected instead of assumed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::promql::{self, Dialect};
use super::window::MIN_STEP_SECS;
use super::{Alert, Series, Window};
use crate::locks;

/// Where Prometheus is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSettings {
    pub url: String,
    pub auth: PrometheusAuth,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub idle: IdleRule,
    /// How long after a job ends its GPU use is measured (`jobs::gpu_use`).
    pub gpu_use_delay: Duration,
}

/// When a GPU a pod holds counts as idle: never above `percent` for `minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleRule {
    pub percent: u32,
    pub minutes: u32,
}

/// How Gantry authenticates to Prometheus. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum PrometheusAuth {
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for PrometheusAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrometheusAuth::None => f.write_str("None"),
            PrometheusAuth::Bearer(_) => f.write_str("Bearer(***)"),
            PrometheusAuth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
        }
    }
}

/// Answers kept at most; beyond, the cache starts afresh (each key is a query, a range and
/// the step's end, so old ones are never asked for again anyway).
const CACHE_ENTRIES: usize = 1024;
/// A failure is remembered this long, not a whole step (up to 17 minutes at 7 days).
const ERROR_TTL: Duration = Duration::from_secs(10);
/// How often the exporter's label set is checked again.
const DIALECT_TTL: Duration = Duration::from_secs(300);

/// A range query's series, or why there are none, in words for the page.
pub type Answer = Result<Vec<Series>, String>;
/// Series as Prometheus gave them: labels and (seconds since the epoch, value) points.
pub type Raw = Vec<(HashMap<String, String>, Vec<(i64, f64)>)>;
type Key = (String, i64, i64, u64);
type Cell = Arc<OnceCell<(Instant, Result<Raw, String>)>>;

/// The client, cheap to clone.
#[derive(Clone)]
pub struct Prometheus {
    inner: Arc<Inner>,
}

struct Inner {
    client: prometheus_http_query::Client,
    timeout: Duration,
    idle: IdleRule,
    cache: Mutex<HashMap<Key, Cell>>,
    dialect: Mutex<Option<(Instant, Dialect)>>,
    alerts: Mutex<Option<AlertsCell>>,
}

/// The alerts as last asked, shared like the queries' answers: when (for the TTL, and in
/// seconds since the epoch for the pages), and the answer.
type AlertsCell = Arc<OnceCell<(Instant, u64, Result<Vec<Alert>, String>)>>;

/// How long one answer from `/api/v1/alerts` serves everyone (rules are evaluated every
/// few seconds; pages need not be fresher).
const ALERTS_TTL: Duration = Duration::from_secs(15);

impl Prometheus {
    /// A client for `settings`, or why it cannot be made (a CA file that does not read).
    pub fn new(settings: &PrometheusSettings) -> Result<Prometheus, String> {
        use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
        let mut headers = HeaderMap::new();
        let credentials = match &settings.auth {
            PrometheusAuth::None => None,
            PrometheusAuth::Bearer(token) => Some(format!("Bearer {token}")),
            PrometheusAuth::Basic { user, password } => {
                Some(format!("Basic {}", base64(&format!("{user}:{password}"))))
            }
        };
        if let Some(value) = credentials {
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| "the Prometheus credentials are not valid header text".to_string())?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .default_headers(headers);
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("GANTRY_PROMETHEUS_CA_FILE {}: {e}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("GANTRY_PROMETHEUS_CA_FILE {}: {e}", path.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("Prometheus client: {e}"))?;
        let client = prometheus_http_query::Client::from(http, &settings.url)
            .map_err(|e| format!("GANTRY_PROMETHEUS_URL: {e}"))?;
        Ok(Prometheus {
            inner: Arc::new(Inner {
                client,
                timeout: settings.timeout,
                idle: settings.idle,
                cache: Mutex::default(),
                dialect: Mutex::default(),
                alerts: Mutex::default(),
            }),
        })
    }

    /// The idle rule the overview applies.
    pub fn idle_rule(&self) -> IdleRule {
        self.inner.idle
    }

    /// `query` over `window`: everyone asking for the same window (within one step, for a
    /// span ending now) gets the same answer from one query.
    pub async fn range(&self, query: &str, window: Window) -> Answer {
        let raw = self
            .raw(query, window.start, window.end, window.step_secs)
            .await?;
        // By pod (a job's), then GPU number (GPU 2 before GPU 10), then name.
        let mut series: Vec<((String, u32), Series)> = raw
            .into_iter()
            .map(|(labels, points)| {
                let gpu = labels.get("gpu").and_then(|g| g.parse().ok());
                let pod = ["pod", "exported_pod", "pod_name"]
                    .iter()
                    .find_map(|l| labels.get(*l).cloned())
                    .unwrap_or_default();
                let name = promql::series_name(&labels);
                ((pod, gpu.unwrap_or(u32::MAX)), Series { name, points })
            })
            .collect();
        series.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
        Ok(series.into_iter().map(|(_, s)| s).collect())
    }

    /// `query`'s value for each series at the last whole [`MIN_STEP_SECS`] before `now`,
    /// shared likewise (a moment in the past is asked for once: its answer never changes).
    pub async fn at(
        &self,
        query: &str,
        now: i64,
    ) -> Result<Vec<(HashMap<String, String>, f64)>, String> {
        let end = now - now.rem_euclid(MIN_STEP_SECS as i64);
        let raw = self.raw(query, end, end, MIN_STEP_SECS).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(labels, points)| Some((labels, points.last()?.1)))
            .collect())
    }

    async fn raw(&self, query: &str, start: i64, end: i64, step: u64) -> Result<Raw, String> {
        let key = (query.to_string(), start, end, step);
        let cell = {
            let mut cache = locks::lock(&self.inner.cache);
            let fresh = cache.get(&key).filter(
                |cell| !matches!(cell.get(), Some((at, Err(_))) if at.elapsed() > ERROR_TTL),
            );
            match fresh {
                Some(cell) => cell.clone(),
                None => {
                    if cache.len() >= CACHE_ENTRIES {
                        cache.clear();
                    }
                    let cell = Cell::default();
                    cache.insert(key, cell.clone());
                    cell
                }
            }
        };
        let (_, answer) = cell
            .get_or_init(|| async { (Instant::now(), self.fetch(query, start, end, step).await) })
            .await;
        answer.clone()
    }

    async fn fetch(&self, query: &str, start: i64, end: i64, step: u64) -> Result<Raw, String> {
        let timeout = self.inner.timeout;
        let request = self
            .inner
            .client
            .query_range(query, start, end, step as f64)
            .timeout(timeout.as_millis() as i64)
            .get();
        let response = match tokio::time::timeout(timeout, request).await {
            Err(_) => return Err(too_slow(timeout)),
            Ok(Err(e)) => return Err(reason(&e, timeout)),
            Ok(Ok(response)) => response,
        };
        let Some(matrix) = response.data().as_matrix() else {
            return Err("Prometheus answered with something other than series".into());
        };
        Ok(matrix
            .iter()
            .map(|s| {
                let points = s
                    .samples()
                    .iter()
                    .map(|p| (p.timestamp() as i64, p.value()))
                    .collect();
                (s.metric().clone(), points)
            })
            .collect())
    }

    /// Firing and pending alerts, asked at most every [`ALERTS_TTL`] however many ask, and
    /// when they were asked (seconds since the epoch).
    pub async fn alerts(&self) -> (u64, Result<Vec<Alert>, String>) {
        let cell = {
            let mut slot = locks::lock(&self.inner.alerts);
            let fresh = slot.as_ref().filter(
                |cell| !matches!(cell.get(), Some((at, _, _)) if at.elapsed() > ALERTS_TTL),
            );
            match fresh {
                Some(cell) => cell.clone(),
                None => {
                    let cell = AlertsCell::default();
                    *slot = Some(cell.clone());
                    cell
                }
            }
        };
        let (_, asked, answer) = cell
            .get_or_init(|| async {
                let asked = crate::time::unix_now();
                (Instant::now(), asked, self.fetch_alerts().await)
            })
            .await;
        (*asked, answer.clone())
    }

    async fn fetch_alerts(&self) -> Result<Vec<Alert>, String> {
        let timeout = self.inner.timeout;
        let alerts = match tokio::time::timeout(timeout, self.inner.client.alerts()).await {
            Err(_) => return Err(too_slow(timeout)),
            Ok(Err(e)) => return Err(reason(&e, timeout)),
            Ok(Ok(alerts)) => alerts,
        };
        Ok(alerts
            .iter()
            .filter_map(|a| {
                let state = a.state();
                if state.is_inactive() {
                    return None;
                }
                let label = |name: &str| a.labels().get(name).cloned();
                Some(Alert {
                    name: label("alertname").unwrap_or_default(),
                    // "firing" or "pending", as Prometheus writes them.
                    state: state.to_string(),
                    severity: label("severity").unwrap_or_default(),
                    summary: a.annotations().get("summary").cloned().unwrap_or_default(),
                    node: label("Hostname").or_else(|| label("hostname")),
                    namespace: label("namespace")
                        .or_else(|| label("exported_namespace"))
                        .or_else(|| label("pod_namespace")),
                    pod: label("pod")
                        .or_else(|| label("exported_pod"))
                        .or_else(|| label("pod_name")),
                    since: crate::time::format_unix(a.active_at().unix_timestamp().max(0) as u64),
                })
            })
            .collect())
    }

    /// Which labels the exporter's series carry, checked every few minutes.
    pub async fn dialect(&self) -> Dialect {
        if let Some((at, dialect)) = *locks::lock(&self.inner.dialect) {
            if at.elapsed() < DIALECT_TTL {
                return dialect;
            }
        }
        let asks = promql::DETECT.map(|query| async move {
            let request = self.inner.client.query(query).get();
            match tokio::time::timeout(self.inner.timeout, request).await {
                Ok(Ok(response)) => Some(
                    response
                        .data()
                        .as_vector()
                        .is_some_and(|v| v.iter().any(|s| s.sample().value() > 0.0)),
                ),
                _ => None,
            }
        });
        let [a, b, c] = asks;
        let found = match tokio::join!(a, b, c) {
            (Some(a), Some(b), Some(c)) => [a, b, c],
            // Unknown for now: the usual set, asked again next time.
            _ => return Dialect::DEFAULT,
        };
        let dialect = promql::dialect_from(found);
        *locks::lock(&self.inner.dialect) = Some((Instant::now(), dialect));
        dialect
    }
}

fn too_slow(timeout: Duration) -> String {
    format!("Prometheus did not answer within {} s", timeout.as_secs())
}

/// A failure in words: Prometheus' own message for a query it refused, the transport's
/// root cause otherwise (never reqwest's own text, which carries the query's URL).
fn reason(error: &prometheus_http_query::Error, timeout: Duration) -> String {
    if let prometheus_http_query::Error::Client(e) = error {
        if let Some(transport) = e.inner() {
            if transport.is_timeout() {
                return too_slow(timeout);
            }
            let mut root: &dyn std::error::Error = transport;
            while let Some(cause) = root.source() {
                root = cause;
            }
            return format!("Prometheus could not be reached: {root}");
        }
    }
    format!("Prometheus: {error}")
}

/// Standard base64, for the basic-auth header.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_encoded_as_rfc_4648_says() {
        assert_eq!(
            base64("Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64("ab"), "YWI=");
        assert_eq!(base64("abc"), "YWJj");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let auth = PrometheusAuth::Basic {
            user: "gantry".into(),
            password: "hunter2".into(),
        };
        assert_eq!(format!("{auth:?}"), "Basic(gantry, ***)");
        assert!(!format!("{:?}", PrometheusAuth::Bearer("tok".into())).contains("tok"));
    }
}
