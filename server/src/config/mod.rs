//! Configuration: environment variables, optionally read from a file first.
//!
//! Every setting has a default, so `gantry` starts with none. `GANTRY_CONFIG_FILE` names a file
//! of `KEY=VALUE` lines (the same keys as the environment); a variable set in the environment
//! wins over the file. The README's configuration table lists every key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gantry_app::auth::proxies::Network;
use gantry_app::jobs::cache::Capture;
use gantry_app::metrics::prom::{IdleRule, PrometheusAuth, PrometheusSettings};
use gantry_app::retention::Retention;

mod artifacts;
mod file;

/// A setting that cannot be used, named with the reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The value of `key` is malformed.
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    /// The configuration file could not be read or parsed.
    #[error("GANTRY_CONFIG_FILE {path}: {reason}")]
    File { path: String, reason: String },
}

/// Gantry's settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `GANTRY_LISTEN_ADDR`: where the HTTP server listens.
    pub listen_addr: SocketAddr,
    /// `GANTRY_DATA_DIR`: where Gantry keeps its SQLite database.
    pub data_dir: PathBuf,
    /// `GANTRY_DATABASE_URL`: the database, `sqlite://…` or `postgres://…`; defaults to
    /// `sqlite://<data dir>/gantry.db`. A secret: a PostgreSQL URL may hold a password.
    pub database_url: Secret,
    /// `GANTRY_DATABASE_CONNECTIONS`: the most connections this process opens to it for
    /// its own tables (default 8); the session store keeps two more.
    pub database_connections: u32,
    /// `GANTRY_SITE_ROOT`: the built front end (`pkg/` with the wasm, JS and CSS).
    pub site_root: PathBuf,
    /// `KUBECONFIG`: kubeconfig files to merge; empty means the in-cluster service account.
    pub kubeconfig: Vec<PathBuf>,
    /// `GANTRY_KUBE_CONTEXT`: the kubeconfig context to use instead of the current one.
    pub kube_context: Option<String>,
    /// `GANTRY_SHUTDOWN_TIMEOUT_SECS`: how long open requests may run on after SIGTERM.
    pub shutdown_timeout: Duration,
    /// `GANTRY_SHUTDOWN_DRAIN_SECS`: how long after SIGTERM Gantry still accepts connections
    /// with `/readyz` answering 503, while the Service takes it out of its endpoints.
    pub shutdown_drain: Duration,
    /// `LEPTOS_ENV=DEV` (set by `cargo leptos watch`): live reload of the page on rebuilds.
    pub live_reload: bool,
    /// `GANTRY_ADMIN_PASSWORD`: the first admin's password, used only when the database has
    /// no accounts yet; without it a one-time password is logged.
    pub admin_password: Option<Secret>,
    /// `GANTRY_SESSION_IDLE_SECS`: a session unused this long ends (default 1800).
    pub session_idle: Duration,
    /// `GANTRY_SESSION_MAX_HOURS`: a session ends this long after its login (default 12).
    pub session_lifetime: Duration,
    /// `GANTRY_SECURE_COOKIES`: mark the session cookie `Secure`, for Gantry served over
    /// HTTPS (default false; forced on by `GANTRY_EMBED_ORIGINS`).
    pub secure_cookies: bool,
    /// `GANTRY_TRUSTED_ORIGINS`: space-separated origins whose pages may make
    /// state-changing requests besides Gantry's own.
    pub trusted_origins: Vec<String>,
    /// `GANTRY_EMBED_ORIGINS`: space-separated origins of portals that may frame Gantry.
    pub embed_origins: Vec<String>,
    /// `GANTRY_IMPERSONATE_GROUPS`: space-separated Kubernetes groups added to every
    /// request Gantry makes for a user, besides `gantry:<role>`; never a `system:` group.
    pub impersonate_groups: Vec<String>,
    /// `GANTRY_LEADER_LEASE`: `namespace/name` of the Lease with which replicas elect the
    /// one that writes the job history and runs retention (needed for more than one
    /// replica); unset, this process is the only one.
    pub leader_lease: Option<(String, String)>,
    /// `GANTRY_LOGIN_CONCURRENCY`: password checks that may run at once (default 2: each
    /// holds 19 MiB and a core for tens of milliseconds); a login beyond them is refused
    /// with 503 at once, not queued.
    pub login_concurrency: usize,
    /// `GANTRY_STREAMS_PER_USER`: live streams one user may hold open at once (default 8;
    /// each page holds one or two).
    pub streams_per_user: usize,
    /// `GANTRY_STREAMS_TOTAL`: live streams this process serves at once (default 2000).
    pub streams_total: usize,
    /// `GANTRY_TRUSTED_PROXIES`: space-separated networks (`10.0.0.0/8`, `fd00::/8`) of the
    /// reverse proxies in front of Gantry, whose `X-Forwarded-For` then names the client
    /// for the login limiter and the audit log; unset, the header is ignored.
    pub trusted_proxies: Vec<Network>,
    /// `GANTRY_RETENTION_JOBS_DAYS` (90), `GANTRY_RETENTION_JOBS_ROWS` (100000),
    /// `GANTRY_RETENTION_LOGS_DAYS` (30), `GANTRY_RETENTION_AUDIT_DAYS` (365),
    /// `GANTRY_RETENTION_AUDIT_ROWS` (1000000), `GANTRY_RETENTION_ARTIFACT_STAGE_HOURS` (24):
    /// how long, and how much, Gantry keeps.
    pub retention: Retention,
    /// `GANTRY_CAPTURE_LOGS`: whose logs are kept when a job finishes: `gantry` (jobs launched
    /// through Gantry, the default), `all` or `none`.
    pub capture_logs: Capture,
    /// `GANTRY_PROMETHEUS_URL` (unset: the metric areas say "Prometheus not configured"),
    /// `GANTRY_PROMETHEUS_TOKEN` (a bearer token) or `GANTRY_PROMETHEUS_USER` and
    /// `GANTRY_PROMETHEUS_PASSWORD` (basic auth), `GANTRY_PROMETHEUS_CA_FILE` (a PEM bundle
    /// to trust besides the system's), `GANTRY_PROMETHEUS_TIMEOUT_SECS` (default 10), and
    /// the "allocated but idle" rule: `GANTRY_IDLE_PERCENT` (5) for `GANTRY_IDLE_MINUTES` (30),
    /// and `GANTRY_JOB_GPU_USE_DELAY_SECS` (60): how long after a job ends its GPU use is
    /// measured (its last samples must have been scraped by then).
    pub prometheus: Option<PrometheusSettings>,
    /// `GANTRY_ARTIFACT_MAX_BYTES` (10 GiB): the largest file an MLflow client may upload
    /// (every other request body stays under 1 MiB).
    pub artifact_max_bytes: u64,
    /// `GANTRY_ARTIFACT_STORE` and the `GANTRY_ARTIFACT_S3_*` settings (`artifacts`): where
    /// uploads are kept, `<data>/artifacts` by default.
    pub artifact_store: gantry_app::models::artifacts::StoreSettings,
    /// `GANTRY_TRACKING_URI` (unset: jobs cannot turn MLflow tracking on): Gantry's address
    /// as a job's pods reach it, e.g. `http://gantry.gantry-system:3000`; an `http(s)://` URL.
    pub tracking_uri: Option<String>,
    /// `GANTRY_MLFLOW_SERVICE_HOST` (unset: jobs cannot ask for the `mlflow-server` Service):
    /// Gantry's Service as a DNS name in the cluster, e.g. `gantry.gantry.svc.cluster.local`,
    /// which a namespace's `mlflow-server` Service aliases (`jobs::tracking::service`).
    pub mlflow_service_host: Option<String>,
    /// `GANTRY_MLFLOW_SEARCH_MAX_RUNS` (50000, at most 10000000): the most runs, an
    /// experiment's newest, that one `runs/search` with a filter or `order_by` reads, each
    /// with the values it names, and filters in memory.
    pub mlflow_search_max_runs: i64,
}

/// A setting that must not reach a log: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Config {
    /// Reads the process environment (and the file it names).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::resolve(|key| std::env::var(key).ok())
    }

    /// Resolves the settings from `env`, reading `GANTRY_CONFIG_FILE` first if it is set.
    pub fn resolve(env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file = match env("GANTRY_CONFIG_FILE").filter(|p| !p.is_empty()) {
            Some(path) => file::read(&path)?,
            None => HashMap::new(),
        };
        let get = |key: &str| {
            env(key)
                .filter(|v| !v.is_empty())
                .or_else(|| file.get(key).cloned())
        };

        let listen_addr = match get("GANTRY_LISTEN_ADDR") {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                key: "GANTRY_LISTEN_ADDR",
                reason: format!("expected an address like 127.0.0.1:3000, got {v:?}"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let data_dir = PathBuf::from(get("GANTRY_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = match get("GANTRY_DATABASE_URL") {
            Some(url)
                if ["sqlite:", "postgres:", "postgresql:"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme)) =>
            {
                url
            }
            Some(url) => {
                let scheme = url.split(':').next().unwrap_or_default().to_string();
                return Err(ConfigError::Invalid {
                    key: "GANTRY_DATABASE_URL",
                    reason: format!(
                        "unsupported scheme {scheme:?}: Gantry stores its state in SQLite \
                         (sqlite://data/gantry.db) or PostgreSQL (postgres://user@host/db)"
                    ),
                });
            }
            None => format!("sqlite://{}", data_dir.join("gantry.db").display()),
        };
        let site_root =
            PathBuf::from(get("GANTRY_SITE_ROOT").unwrap_or_else(|| "target/site".into()));
        let kubeconfig = match get("KUBECONFIG") {
            Some(list) => std::env::split_paths(&list)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            None => default_kubeconfig(&env),
        };
        let kube_context = get("GANTRY_KUBE_CONTEXT");
        // The shutdown's phases may be 0 (none).
        let seconds = |key: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(key) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .parse()
                    .map(Duration::from_secs)
                    .map_err(|_| ConfigError::Invalid {
                        key,
                        reason: format!("expected a whole number of seconds, got {v:?}"),
                    }),
            }
        };
        let shutdown_timeout = seconds("GANTRY_SHUTDOWN_TIMEOUT_SECS", 20)?;
        let shutdown_drain = seconds("GANTRY_SHUTDOWN_DRAIN_SECS", 5)?;
        let live_reload = get("LEPTOS_ENV").is_some_and(|v| v.eq_ignore_ascii_case("dev"));
        let admin_password = get("GANTRY_ADMIN_PASSWORD").map(Secret);
        let duration =
            |key: &'static str, default: u64, unit: u64| -> Result<Duration, ConfigError> {
                match get(key) {
                    None => Ok(Duration::from_secs(default * unit)),
                    Some(v) => match v.parse::<u64>() {
                        Ok(n) if n > 0 => Ok(Duration::from_secs(n * unit)),
                        _ => Err(ConfigError::Invalid {
                            key,
                            reason: format!("expected a whole number above 0, got {v:?}"),
                        }),
                    },
                }
            };
        let session_idle = duration("GANTRY_SESSION_IDLE_SECS", 1800, 1)?;
        let session_lifetime = duration("GANTRY_SESSION_MAX_HOURS", 12, 3600)?;
        let origins = |key: &'static str| -> Result<Vec<String>, ConfigError> {
            get(key)
                .unwrap_or_default()
                .split_whitespace()
                .map(|origin| {
                    parse_origin(origin).ok_or_else(|| ConfigError::Invalid {
                        key,
                        reason: format!(
                            "expected origins like https://portal.example (scheme, host, \
                             optional port; no path), got {origin:?}"
                        ),
                    })
                })
                .collect()
        };
        let embed_origins = origins("GANTRY_EMBED_ORIGINS")?;
        let mut trusted_origins = origins("GANTRY_TRUSTED_ORIGINS")?;
        trusted_origins.extend(embed_origins.iter().cloned());
        let secure_cookies = match get("GANTRY_SECURE_COOKIES").as_deref() {
            None | Some("false") => !embed_origins.is_empty(),
            Some("true") => true,
            Some(v) => {
                return Err(ConfigError::Invalid {
                    key: "GANTRY_SECURE_COOKIES",
                    reason: format!("expected true or false, got {v:?}"),
                })
            }
        };
        let impersonate_groups: Vec<String> = get("GANTRY_IMPERSONATE_GROUPS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        // `system:masters` and its kin would hand every user the cluster's own powers.
        if let Some(group) = impersonate_groups.iter().find(|g| g.starts_with("system:")) {
            return Err(ConfigError::Invalid {
                key: "GANTRY_IMPERSONATE_GROUPS",
                reason: format!(
                    "{group:?} is one of the cluster's own groups (system:…); Gantry never \
                     sends those on a user's behalf"
                ),
            });
        }
        let count = |key: &'static str, default: usize, most: usize| match get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=most).contains(&n) => Ok(n),
                _ => Err(ConfigError::Invalid {
                    key,
                    reason: format!("expected a whole number from 1 to {most}, got {v:?}"),
                }),
            },
        };
        let trusted_proxies = get("GANTRY_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split_whitespace()
            .map(|text| {
                Network::parse(text).ok_or_else(|| ConfigError::Invalid {
                    key: "GANTRY_TRUSTED_PROXIES",
                    reason: format!(
                        "expected networks like 10.0.0.0/8 or fd00::/8, or addresses, got {text:?}"
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let leader_lease = match get("GANTRY_LEADER_LEASE") {
            None => None,
            Some(text) => match text.split_once('/') {
                Some((namespace, name))
                    if gantry_app::names::is_dns_label(namespace)
                        && gantry_app::names::is_dns_subdomain(name) =>
                {
                    Some((namespace.to_string(), name.to_string()))
                }
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "GANTRY_LEADER_LEASE",
                        reason: format!(
                            "expected the Lease as namespace/name, e.g. gantry/gantry-leader, got {text:?}"
                        ),
                    })
                }
            },
        };
        let login_concurrency = count("GANTRY_LOGIN_CONCURRENCY", 2, 1024)?;
        let streams_per_user = count("GANTRY_STREAMS_PER_USER", 8, 1000)?;
        let streams_total = count("GANTRY_STREAMS_TOTAL", 2000, 100_000)?;
        let database_connections = count("GANTRY_DATABASE_CONNECTIONS", 8, 1000)? as u32;
        let retention = Retention {
            jobs_days: count("GANTRY_RETENTION_JOBS_DAYS", 90, 36_500)? as u64,
            jobs_rows: count("GANTRY_RETENTION_JOBS_ROWS", 100_000, 100_000_000)? as i64,
            logs_days: count("GANTRY_RETENTION_LOGS_DAYS", 30, 36_500)? as u64,
            serving_days: count("GANTRY_RETENTION_SERVING_DAYS", 365, 36_500)? as u64,
            serving_rows: count("GANTRY_RETENTION_SERVING_ROWS", 1_000_000, 1_000_000_000)? as i64,
            audit_days: count("GANTRY_RETENTION_AUDIT_DAYS", 365, 36_500)? as u64,
            audit_rows: count("GANTRY_RETENTION_AUDIT_ROWS", 1_000_000, 1_000_000_000)? as i64,
            artifact_stage_hours: count("GANTRY_RETENTION_ARTIFACT_STAGE_HOURS", 24, 8_760)? as u64,
        };
        let artifact_max_bytes = count("GANTRY_ARTIFACT_MAX_BYTES", 10 << 30, 1 << 40)? as u64;
        let mlflow_search_max_runs =
            count("GANTRY_MLFLOW_SEARCH_MAX_RUNS", 50_000, 10_000_000)? as i64;
        let artifact_store = artifacts::store(get)?;
        let tracking_uri = match get("GANTRY_TRACKING_URI") {
            None => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_string())
            }
            Some(url) => {
                return Err(ConfigError::Invalid {
                    key: "GANTRY_TRACKING_URI",
                    reason: format!("expected an http:// or https:// URL, got {url:?}"),
                })
            }
        };
        let mlflow_service_host = match get("GANTRY_MLFLOW_SERVICE_HOST") {
            None => None,
            Some(host) if gantry_app::names::is_dns_subdomain(&host) => Some(host),
            Some(host) => {
                return Err(ConfigError::Invalid {
                    key: "GANTRY_MLFLOW_SERVICE_HOST",
                    reason: format!(
                        "expected a DNS name such as gantry.gantry.svc.cluster.local \
                         (an ExternalName Service cannot alias an address or a URL), got {host:?}"
                    ),
                })
            }
        };
        let capture_logs = match get("GANTRY_CAPTURE_LOGS").as_deref() {
            None | Some("gantry") => Capture::Gantry,
            Some("all") => Capture::All,
            Some("none") => Capture::None,
            Some(v) => {
                return Err(ConfigError::Invalid {
                    key: "GANTRY_CAPTURE_LOGS",
                    reason: format!("expected gantry, all or none, got {v:?}"),
                })
            }
        };

        let prometheus = match get("GANTRY_PROMETHEUS_URL") {
            None => None,
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::Invalid {
                        key: "GANTRY_PROMETHEUS_URL",
                        reason: format!("expected an http:// or https:// URL, got {url:?}"),
                    });
                }
                let auth = match (
                    get("GANTRY_PROMETHEUS_TOKEN"),
                    get("GANTRY_PROMETHEUS_USER"),
                    get("GANTRY_PROMETHEUS_PASSWORD"),
                ) {
                    (None, None, None) => PrometheusAuth::None,
                    (Some(token), None, None) => PrometheusAuth::Bearer(token),
                    (None, Some(user), Some(password)) => PrometheusAuth::Basic { user, password },
                    (Some(_), _, _) => {
                        return Err(ConfigError::Invalid {
                            key: "GANTRY_PROMETHEUS_TOKEN",
                            reason: "set a token or a user and password, not both".into(),
                        })
                    }
                    (None, _, _) => {
                        return Err(ConfigError::Invalid {
                            key: "GANTRY_PROMETHEUS_USER",
                            reason: "basic auth needs both GANTRY_PROMETHEUS_USER and \
                                     GANTRY_PROMETHEUS_PASSWORD"
                                .into(),
                        })
                    }
                };
                Some(PrometheusSettings {
                    url: url.trim_end_matches('/').to_string(),
                    auth,
                    ca_file: get("GANTRY_PROMETHEUS_CA_FILE").map(PathBuf::from),
                    timeout: duration("GANTRY_PROMETHEUS_TIMEOUT_SECS", 10, 1)?,
                    idle: IdleRule {
                        percent: count("GANTRY_IDLE_PERCENT", 5, 100)? as u32,
                        minutes: count("GANTRY_IDLE_MINUTES", 30, 24 * 60)? as u32,
                    },
                    gpu_use_delay: duration("GANTRY_JOB_GPU_USE_DELAY_SECS", 60, 1)?,
                })
            }
        };

        Ok(Config {
            listen_addr,
            data_dir,
            database_url: Secret(database_url),
            database_connections,
            site_root,
            kubeconfig,
            kube_context,
            shutdown_timeout,
            shutdown_drain,
            live_reload,
            admin_password,
            session_idle,
            session_lifetime,
            secure_cookies,
            trusted_origins,
            embed_origins,
            impersonate_groups,
            leader_lease,
            login_concurrency,
            streams_per_user,
            streams_total,
            trusted_proxies,
            retention,
            capture_logs,
            prometheus,
            artifact_max_bytes,
            artifact_store,
            tracking_uri,
            mlflow_service_host,
            mlflow_search_max_runs,
        })
    }
}

/// `scheme://host[:port]`, lower-cased, or `None` for anything else (paths, wildcards).
fn parse_origin(text: &str) -> Option<String> {
    let (scheme, authority) = text.split_once("://")?;
    let ok_scheme = scheme == "https" || scheme == "http";
    let ok_authority = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    (ok_scheme && ok_authority).then(|| text.to_ascii_lowercase())
}

/// `~/.kube/config` when it exists, as kubectl does; otherwise nothing (in-cluster).
fn default_kubeconfig(env: &impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    env("HOME")
        .map(|home| PathBuf::from(home).join(".kube").join("config"))
        .filter(|path| path.is_file())
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn defaults_need_no_settings() {
        let config = Config::resolve(env_of(&[])).unwrap();
        assert_eq!(config.listen_addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.database_url.0, "sqlite://data/gantry.db");
        assert_eq!(config.site_root, PathBuf::from("target/site"));
        assert!(config.kubeconfig.is_empty());
        assert_eq!(config.kube_context, None);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(config.shutdown_drain, Duration::from_secs(5));
        assert!(!config.live_reload);
        assert_eq!(config.session_idle, Duration::from_secs(30 * 60));
        assert_eq!(config.session_lifetime, Duration::from_secs(12 * 3600));
        assert!(!config.secure_cookies);
        assert!(config.embed_origins.is_empty() && config.trusted_origins.is_empty());
        assert_eq!(config.admin_password, None);
        assert_eq!(
            (
                config.login_concurrency,
                config.streams_per_user,
                config.streams_total
            ),
            (2, 8, 2000)
        );
        assert!(config.trusted_proxies.is_empty());
        let with = Config::resolve(env_of(&[("GANTRY_ADMIN_PASSWORD", "hunter2hunter2")])).unwrap();
        assert!(!format!("{with:?}").contains("hunter2"));
    }

    #[test]
    fn embedding_trusts_the_portal_and_needs_secure_cookies() {
        let config = Config::resolve(env_of(&[
            ("GANTRY_EMBED_ORIGINS", "https://Portal.example"),
            ("GANTRY_TRUSTED_ORIGINS", "https://ci.example:8443"),
        ]))
        .unwrap();
        assert_eq!(config.embed_origins, ["https://portal.example"]);
        assert_eq!(
            config.trusted_origins,
            ["https://ci.example:8443", "https://portal.example"]
        );
        assert!(config.secure_cookies);
    }

    #[test]
    fn bad_security_settings_are_named() {
        for (key, value) in [
            ("GANTRY_EMBED_ORIGINS", "https://portal.example/path"),
            ("GANTRY_TRUSTED_ORIGINS", "*"),
            ("GANTRY_SESSION_IDLE_SECS", "0"),
            ("GANTRY_SESSION_MAX_HOURS", "twelve"),
            ("GANTRY_SECURE_COOKIES", "yes"),
            ("GANTRY_IMPERSONATE_GROUPS", "gantry:viewers system:masters"),
            ("GANTRY_LOGIN_CONCURRENCY", "0"),
            ("GANTRY_STREAMS_PER_USER", "eight"),
            ("GANTRY_TRUSTED_PROXIES", "10.0.0.0/8 proxy.local"),
            ("GANTRY_RETENTION_AUDIT_DAYS", "0"),
            ("GANTRY_CAPTURE_LOGS", "some"),
            ("GANTRY_LEADER_LEASE", "gantry-leader"),
            ("GANTRY_LEADER_LEASE", "Gantry/leader"),
            ("GANTRY_DATABASE_CONNECTIONS", "0"),
        ] {
            let err = Config::resolve(env_of(&[(key, value)])).unwrap_err();
            assert!(err.to_string().starts_with(key), "{err}");
        }
    }

    #[test]
    fn the_database_follows_the_data_dir() {
        let config = Config::resolve(env_of(&[("GANTRY_DATA_DIR", "/var/lib/gantry")])).unwrap();
        assert_eq!(config.database_url.0, "sqlite:///var/lib/gantry/gantry.db");
    }

    #[test]
    fn kubeconfig_lists_are_split() {
        let config = Config::resolve(env_of(&[("KUBECONFIG", "/a/config:/b/config")])).unwrap();
        assert_eq!(
            config.kubeconfig,
            vec![PathBuf::from("/a/config"), PathBuf::from("/b/config")]
        );
    }

    #[test]
    fn bad_values_name_the_key_and_the_reason() {
        let err = Config::resolve(env_of(&[("GANTRY_LISTEN_ADDR", "port 80")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GANTRY_LISTEN_ADDR: expected an address like 127.0.0.1:3000, got \"port 80\""
        );
        let err = Config::resolve(env_of(&[("GANTRY_SHUTDOWN_TIMEOUT_SECS", "-1")])).unwrap_err();
        assert!(
            err.to_string().starts_with("GANTRY_SHUTDOWN_TIMEOUT_SECS:"),
            "{err}"
        );
        let err =
            Config::resolve(env_of(&[("GANTRY_DATABASE_URL", "mysql://db/gantry")])).unwrap_err();
        assert!(
            err.to_string().contains("unsupported scheme \"mysql\""),
            "{err}"
        );
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gantry.env");
        std::fs::write(
            &file,
            "# comment\n\nGANTRY_LISTEN_ADDR=0.0.0.0:8080\nGANTRY_KUBE_CONTEXT = prod\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let config = Config::resolve(env_of(&[
            ("GANTRY_CONFIG_FILE", path),
            ("GANTRY_LISTEN_ADDR", "127.0.0.1:9000"),
        ]))
        .unwrap();
        assert_eq!(config.listen_addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.kube_context.as_deref(), Some("prod"));
    }
}
