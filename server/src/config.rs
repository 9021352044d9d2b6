//! Configuration: environment variables, optionally read from a file first.
//!
//! Every setting has a default, so `gantry` starts with none. `GANTRY_CONFIG_FILE` names a file
//! of `KEY=VALUE` lines (the same keys as the environment); a variable set in the environment
//! wins over the file. The README's configuration table lists every key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// `GANTRY_DATABASE_URL`: the database; defaults to `sqlite://<data dir>/gantry.db`.
    pub database_url: String,
    /// `GANTRY_SITE_ROOT`: the built front end (`pkg/` with the wasm, JS and CSS).
    pub site_root: PathBuf,
    /// `KUBECONFIG`: kubeconfig files to merge; empty means the in-cluster service account.
    pub kubeconfig: Vec<PathBuf>,
    /// `GANTRY_KUBE_CONTEXT`: the kubeconfig context to use instead of the current one.
    pub kube_context: Option<String>,
    /// `GANTRY_SHUTDOWN_TIMEOUT_SECS`: how long open requests may run on after SIGTERM.
    pub shutdown_timeout: Duration,
    /// `LEPTOS_ENV=DEV` (set by `cargo leptos watch`): live reload of the page on rebuilds.
    pub live_reload: bool,
}

/// The keys a configuration file may set, so that a typo is an error, not a silent default.
const KEYS: [&str; 8] = [
    "GANTRY_LISTEN_ADDR",
    "GANTRY_DATA_DIR",
    "GANTRY_DATABASE_URL",
    "GANTRY_SITE_ROOT",
    "KUBECONFIG",
    "GANTRY_KUBE_CONTEXT",
    "GANTRY_SHUTDOWN_TIMEOUT_SECS",
    "LEPTOS_ENV",
];

impl Config {
    /// Reads the process environment (and the file it names).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::resolve(|key| std::env::var(key).ok())
    }

    /// Resolves the settings from `env`, reading `GANTRY_CONFIG_FILE` first if it is set.
    pub fn resolve(env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file = match env("GANTRY_CONFIG_FILE").filter(|p| !p.is_empty()) {
            Some(path) => read_file(&path)?,
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
            Some(url) if url.starts_with("sqlite:") => url,
            Some(url) => {
                let scheme = url.split(':').next().unwrap_or_default().to_string();
                return Err(ConfigError::Invalid {
                    key: "GANTRY_DATABASE_URL",
                    reason: format!(
                        "unsupported scheme {scheme:?}: this version stores its state in \
                         SQLite, e.g. sqlite://data/gantry.db"
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
        let shutdown_timeout = match get("GANTRY_SHUTDOWN_TIMEOUT_SECS") {
            Some(v) => Duration::from_secs(v.parse().map_err(|_| ConfigError::Invalid {
                key: "GANTRY_SHUTDOWN_TIMEOUT_SECS",
                reason: format!("expected a whole number of seconds, got {v:?}"),
            })?),
            None => Duration::from_secs(20),
        };
        let live_reload = get("LEPTOS_ENV").is_some_and(|v| v.eq_ignore_ascii_case("dev"));

        Ok(Config {
            listen_addr,
            data_dir,
            database_url,
            site_root,
            kubeconfig,
            kube_context,
            shutdown_timeout,
            live_reload,
        })
    }
}

/// `~/.kube/config` when it exists, as kubectl does; otherwise nothing (in-cluster).
fn default_kubeconfig(env: &impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    env("HOME")
        .map(|home| PathBuf::from(home).join(".kube").join("config"))
        .filter(|path| path.is_file())
        .into_iter()
        .collect()
}

fn read_file(path: &str) -> Result<HashMap<String, String>, ConfigError> {
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
        assert_eq!(config.database_url, "sqlite://data/gantry.db");
        assert_eq!(config.site_root, PathBuf::from("target/site"));
        assert!(config.kubeconfig.is_empty());
        assert_eq!(config.kube_context, None);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(20));
        assert!(!config.live_reload);
    }

    #[test]
    fn the_database_follows_the_data_dir() {
        let config = Config::resolve(env_of(&[("GANTRY_DATA_DIR", "/var/lib/gantry")])).unwrap();
        assert_eq!(config.database_url, "sqlite:///var/lib/gantry/gantry.db");
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
        let err = Config::resolve(env_of(&[("GANTRY_CONFIG_FILE", "/nonexistent/gantry.env")]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }), "{err}");
    }
}
