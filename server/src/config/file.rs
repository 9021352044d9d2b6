//! `GANTRY_CONFIG_FILE`: a file of `KEY=VALUE` lines with the environment's keys, read before
//! the environment. An unknown key is an error, so that a typo is not a silent default.

use std::collections::HashMap;

use super::ConfigError;

/// The keys a configuration file may set, so that a typo is an error, not a silent default.
const KEYS: [&str; 49] = [
    "GANTRY_LISTEN_ADDR",
    "GANTRY_DATA_DIR",
    "GANTRY_DATABASE_URL",
    "GANTRY_DATABASE_CONNECTIONS",
    "GANTRY_SITE_ROOT",
    "KUBECONFIG",
    "GANTRY_KUBE_CONTEXT",
    "GANTRY_SHUTDOWN_TIMEOUT_SECS",
    "GANTRY_SHUTDOWN_DRAIN_SECS",
    "LEPTOS_ENV",
    "GANTRY_ADMIN_PASSWORD",
    "GANTRY_SESSION_IDLE_SECS",
    "GANTRY_SESSION_MAX_HOURS",
    "GANTRY_SECURE_COOKIES",
    "GANTRY_TRUSTED_ORIGINS",
    "GANTRY_EMBED_ORIGINS",
    "GANTRY_IMPERSONATE_GROUPS",
    "GANTRY_LEADER_LEASE",
    "GANTRY_LOGIN_CONCURRENCY",
    "GANTRY_STREAMS_PER_USER",
    "GANTRY_STREAMS_TOTAL",
    "GANTRY_TRUSTED_PROXIES",
    "GANTRY_RETENTION_JOBS_DAYS",
    "GANTRY_RETENTION_JOBS_ROWS",
    "GANTRY_RETENTION_LOGS_DAYS",
    "GANTRY_RETENTION_AUDIT_DAYS",
    "GANTRY_RETENTION_AUDIT_ROWS",
    "GANTRY_RETENTION_ARTIFACT_STAGE_HOURS",
    "GANTRY_CAPTURE_LOGS",
    "GANTRY_PROMETHEUS_URL",
    "GANTRY_PROMETHEUS_TOKEN",
    "GANTRY_PROMETHEUS_USER",
    "GANTRY_PROMETHEUS_PASSWORD",
    "GANTRY_PROMETHEUS_CA_FILE",
    "GANTRY_PROMETHEUS_TIMEOUT_SECS",
    "GANTRY_IDLE_PERCENT",
    "GANTRY_IDLE_MINUTES",
    "GANTRY_JOB_GPU_USE_DELAY_SECS",
    "GANTRY_RETENTION_SERVING_DAYS",
    "GANTRY_RETENTION_SERVING_ROWS",
    "GANTRY_ARTIFACT_MAX_BYTES",
    "GANTRY_ARTIFACT_STORE",
    "GANTRY_ARTIFACT_S3_ENDPOINT",
    "GANTRY_ARTIFACT_S3_REGION",
    "GANTRY_ARTIFACT_S3_ACCESS_KEY_ID",
    "GANTRY_ARTIFACT_S3_SECRET_ACCESS_KEY",
    "GANTRY_TRACKING_URI",
    "GANTRY_MLFLOW_SERVICE_HOST",
    "GANTRY_MLFLOW_SEARCH_MAX_RUNS",
];

/// The settings in the file at `path`; a bad line or an unknown key is an error naming it.
pub fn read(path: &str) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    parse_file(&text).map_err(|reason| ConfigError::File {
        path: path.to_string(),
        reason,
    })
}

/// Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped, quotes are not special.
fn parse_file(text: &str) -> Result<HashMap<String, String>, String> {
    let mut settings = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", number + 1));
        };
        let key = key.trim();
        if !KEYS.contains(&key) {
            return Err(format!("line {}: unknown setting {key:?}", number + 1));
        }
        settings.insert(key.to_string(), value.trim().to_string());
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_name_the_line() {
        assert_eq!(
            parse_file("GANTRY_DATA_DIR=/x\nnonsense\n").unwrap_err(),
            "line 2: expected KEY=VALUE"
        );
        assert_eq!(
            parse_file("GANTRY_LISTEN_ADRR=1.2.3.4:80").unwrap_err(),
            "line 1: unknown setting \"GANTRY_LISTEN_ADRR\""
        );
        let missing = |key: &str| {
            (key == "GANTRY_CONFIG_FILE").then(|| "/nonexistent/gantry.env".to_string())
        };
        let err = super::super::Config::resolve(missing).unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }), "{err}");
    }

    /// Every setting the configuration reads may also be set in the file: a key read from
    /// the environment but missing here would be refused as a typo.
    #[test]
    fn the_file_takes_every_setting_the_configuration_reads() {
        let sources = [include_str!("mod.rs"), include_str!("artifacts.rs")];
        let read: std::collections::BTreeSet<&str> = sources
            .iter()
            .flat_map(|source| source.split('"').skip(1).step_by(2))
            .filter(|literal| {
                literal.starts_with("GANTRY_")
                    && literal
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            })
            .filter(|key| *key != "GANTRY_CONFIG_FILE")
            .collect();
        assert!(read.len() > 40, "{read:?}");
        let missing: Vec<_> = read.iter().filter(|key| !KEYS.contains(key)).collect();
        assert!(missing.is_empty(), "not in KEYS: {missing:?}");
    }
}
