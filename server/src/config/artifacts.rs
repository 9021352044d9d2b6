//! The artifact store's settings: `GANTRY_ARTIFACT_STORE` (`local`, the default, or
//! `s3://BUCKET[/PREFIX]`) and, for S3, `GANTRY_ARTIFACT_S3_ENDPOINT`, `…_REGION`,
//! `…_ACCESS_KEY_ID` and `…_SECRET_ACCESS_KEY`.

use gantry_app::models::artifacts::{S3Settings, StoreSettings};

use super::ConfigError;

pub(super) fn store(get: impl Fn(&str) -> Option<String>) -> Result<StoreSettings, ConfigError> {
    let url = match get("GANTRY_ARTIFACT_STORE") {
        None => return Ok(StoreSettings::Local),
        Some(v) if v == "local" => return Ok(StoreSettings::Local),
        Some(url) => url,
    };
    let mut s3 = S3Settings::from_url(&url).ok_or_else(|| ConfigError::Invalid {
        key: "GANTRY_ARTIFACT_STORE",
        reason: format!(
            "expected local or s3://BUCKET[/PREFIX] (a bucket name of 3 to 63 lower-case \
             letters, digits, '-' and '.'), got {url:?}"
        ),
    })?;
    s3.endpoint = match get("GANTRY_ARTIFACT_S3_ENDPOINT") {
        Some(e) if e.starts_with("http://") || e.starts_with("https://") => {
            Some(e.trim_end_matches('/').to_string())
        }
        Some(e) => {
            return Err(ConfigError::Invalid {
                key: "GANTRY_ARTIFACT_S3_ENDPOINT",
                reason: format!("expected an http:// or https:// URL, got {e:?}"),
            })
        }
        None => None,
    };
    s3.region = get("GANTRY_ARTIFACT_S3_REGION");
    s3.access_key_id = get("GANTRY_ARTIFACT_S3_ACCESS_KEY_ID");
    s3.secret_access_key = get("GANTRY_ARTIFACT_S3_SECRET_ACCESS_KEY");
    if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
        return Err(ConfigError::Invalid {
            key: "GANTRY_ARTIFACT_S3_ACCESS_KEY_ID",
            reason: "set both GANTRY_ARTIFACT_S3_ACCESS_KEY_ID and \
                     GANTRY_ARTIFACT_S3_SECRET_ACCESS_KEY, or neither (then AWS_* apply)"
                .into(),
        });
    }
    Ok(StoreSettings::S3(s3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(pairs: &[(&str, &str)]) -> Result<StoreSettings, ConfigError> {
        store(|key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_store_is_local_unless_an_s3_bucket_is_named() {
        assert_eq!(of(&[]).unwrap(), StoreSettings::Local);
        assert_eq!(
            of(&[("GANTRY_ARTIFACT_STORE", "local")]).unwrap(),
            StoreSettings::Local
        );
        let StoreSettings::S3(s3) = of(&[
            ("GANTRY_ARTIFACT_STORE", "s3://models/gantry"),
            ("GANTRY_ARTIFACT_S3_ENDPOINT", "http://127.0.0.1:8333/"),
            ("GANTRY_ARTIFACT_S3_ACCESS_KEY_ID", "id"),
            ("GANTRY_ARTIFACT_S3_SECRET_ACCESS_KEY", "secret"),
        ])
        .unwrap() else {
            panic!("not S3")
        };
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("models", "gantry")
        );
    }

    #[test]
    fn a_bad_setting_is_named() {
        let key = |pairs: &[(&str, &str)]| match of(pairs) {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            key(&[("GANTRY_ARTIFACT_STORE", "gs://models")]),
            "GANTRY_ARTIFACT_STORE"
        );
        assert_eq!(
            key(&[
                ("GANTRY_ARTIFACT_STORE", "s3://models"),
                ("GANTRY_ARTIFACT_S3_ENDPOINT", "minio:9000")
            ]),
            "GANTRY_ARTIFACT_S3_ENDPOINT"
        );
        assert_eq!(
            key(&[
                ("GANTRY_ARTIFACT_STORE", "s3://models"),
                ("GANTRY_ARTIFACT_S3_ACCESS_KEY_ID", "id")
            ]),
            "GANTRY_ARTIFACT_S3_ACCESS_KEY_ID"
        );
    }
}
