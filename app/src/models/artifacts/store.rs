//! Where artifacts are kept: a directory below the data directory (the default), or a bucket
//! of S3-compatible storage (`GANTRY_ARTIFACT_STORE=s3://bucket/prefix`). Either way the
//! same `object_store` calls write, read and list them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;

/// S3 wants every part of a multipart upload but the last to hold at least 5 MiB.
const S3_PART_BYTES: usize = 5 << 20;
/// A local upload appends each part to its staging file: a smaller part keeps memory low.
const LOCAL_PART_BYTES: usize = 1 << 20;

/// Which store, as configured.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// `<data dir>/artifacts`.
    Local,
    /// A bucket of S3 or of an S3-compatible server.
    S3(S3Settings),
}

/// `GANTRY_ARTIFACT_STORE=s3://BUCKET[/PREFIX]` and the `GANTRY_ARTIFACT_S3_*` settings. What
/// is left unset comes from the usual `AWS_*` environment (and, without keys, from the
/// pod's web identity or the instance's metadata), as AWS's own tools read it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Keys go below this, `a/b` without slashes around it; empty for the bucket's root.
    pub prefix: String,
    /// `GANTRY_ARTIFACT_S3_ENDPOINT`: an S3-compatible server's URL; `http://` is allowed.
    pub endpoint: Option<String>,
    /// `GANTRY_ARTIFACT_S3_REGION`.
    pub region: Option<String>,
    /// `GANTRY_ARTIFACT_S3_ACCESS_KEY_ID` and `GANTRY_ARTIFACT_S3_SECRET_ACCESS_KEY`.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSettings::Local => f.write_str("Local"),
            StoreSettings::S3(s3) => f.write_str(&s3.describe()),
        }
    }
}

impl S3Settings {
    /// From `s3://BUCKET[/PREFIX]`; none for anything else.
    pub fn from_url(url: &str) -> Option<S3Settings> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        bucket_ok.then(|| S3Settings {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            ..S3Settings::default()
        })
    }

    /// For the log and `Debug`: never the secret.
    fn describe(&self) -> String {
        let at = self.endpoint.as_deref().unwrap_or("AWS");
        format!("S3 bucket s3://{}/{} at {at}", self.bucket, self.prefix)
    }
}

/// An opened store: the calls, the part size its uploads buffer, and its name for the log.
pub(super) struct Opened {
    pub store: Arc<dyn ObjectStore>,
    pub part_bytes: usize,
    pub described: String,
    /// The local store's directory, where crashed uploads' stages are swept (`stages`).
    pub local_root: Option<PathBuf>,
}

pub(super) fn open(settings: &StoreSettings, data_dir: &Path) -> Result<Opened, String> {
    match settings {
        StoreSettings::Local => {
            let root = data_dir.join("artifacts");
            std::fs::create_dir_all(&root)
                .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
            // fsync: an upload reported stored survives a crash, as before object_store.
            let store = LocalFileSystem::new_with_prefix(&root)
                .map_err(|e| e.to_string())?
                .with_fsync(true);
            Ok(Opened {
                store: Arc::new(store),
                part_bytes: LOCAL_PART_BYTES,
                described: format!("local directory {}", root.display()),
                local_root: Some(root),
            })
        }
        StoreSettings::S3(s3) => {
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(&s3.bucket);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(region) = &s3.region {
                builder = builder.with_region(region);
            }
            if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            let bucket = builder.build().map_err(|e| e.to_string())?;
            let store: Arc<dyn ObjectStore> = if s3.prefix.is_empty() {
                Arc::new(bucket)
            } else {
                Arc::new(PrefixStore::new(bucket, s3.prefix.as_str()))
            };
            Ok(Opened {
                store,
                part_bytes: S3_PART_BYTES,
                described: s3.describe(),
                local_root: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::S3Settings;

    #[test]
    fn an_s3_url_names_a_bucket_and_a_prefix() {
        let s3 = S3Settings::from_url("s3://gantry-artifacts/prod/mlflow/").unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("gantry-artifacts", "prod/mlflow")
        );
        assert_eq!(S3Settings::from_url("s3://models").unwrap().prefix, "");
        for bad in [
            "models",
            "gs://models",
            "s3://",
            "s3://UPPER",
            "s3://a",
            "s3://a_b",
        ] {
            assert!(S3Settings::from_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_secret_never_reaches_a_log() {
        let s3 = S3Settings {
            secret_access_key: Some("hunter2".into()),
            ..S3Settings::from_url("s3://models").unwrap()
        };
        let shown = format!("{:?}", super::StoreSettings::S3(s3));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
