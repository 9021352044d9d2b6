//! The S3-compatible server that `tools/s3/with-s3.sh` starts beside the test command
//! (SeaweedFS, built from its Go module): the settings that point Gantry's artifact store at
//! a folder of its bucket of its own, and a read of an object behind Gantry's back.
//!
//! The test command exports `GANTRY_TEST_S3_*` and `GANTRY_TEST_REQUIRE_S3=1`: there a
//! missing server fails the test. A plain `cargo test` has neither, and the S3 tests skip,
//! saying how to run them.

use std::io::Write;
use std::process::Command;

/// Where one test's artifacts go: the server, the bucket, a folder unique to the test.
pub struct S3Folder {
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    access_key_id: String,
    secret_access_key: String,
}

impl S3Folder {
    /// A folder of the test bucket for `test`; none (the test skips) when no server runs.
    pub fn for_test(test: &str) -> Option<S3Folder> {
        let setting = |name: &str| std::env::var(name).ok();
        let Some(endpoint) = setting("GANTRY_TEST_S3_ENDPOINT") else {
            if setting("GANTRY_TEST_REQUIRE_S3").as_deref() == Some("1") {
                panic!("GANTRY_TEST_REQUIRE_S3=1 but GANTRY_TEST_S3_ENDPOINT is not set");
            }
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: needs an S3-compatible server. Run `make test`, or \
                 `tools/s3/with-s3.sh cargo test -p gantry-server --test integration` ***\n"
            );
            return None;
        };
        let unique = format!(
            "{test}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        Some(S3Folder {
            endpoint,
            bucket: setting("GANTRY_TEST_S3_BUCKET").expect("GANTRY_TEST_S3_BUCKET"),
            prefix: unique,
            access_key_id: setting("GANTRY_TEST_S3_ACCESS_KEY_ID").expect("an access key"),
            secret_access_key: setting("GANTRY_TEST_S3_SECRET_ACCESS_KEY").expect("a secret"),
        })
    }

    /// The store's settings, as `GANTRY_ARTIFACT_*` would give them, for a test that drives
    /// Gantry's artifact store itself.
    pub fn settings(&self) -> gantry_app::models::artifacts::S3Settings {
        gantry_app::models::artifacts::S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some(self.access_key_id.clone()),
            secret_access_key: Some(self.secret_access_key.clone()),
            ..gantry_app::models::artifacts::S3Settings::from_url(&format!(
                "s3://{}/{}",
                self.bucket, self.prefix
            ))
            .expect("the test bucket's URL")
        }
    }

    /// Gantry's settings for an artifact store in this folder, signing with `secret`.
    pub fn gantry_env_with_secret(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "GANTRY_ARTIFACT_STORE",
                format!("s3://{}/{}", self.bucket, self.prefix),
            ),
            ("GANTRY_ARTIFACT_S3_ENDPOINT", self.endpoint.clone()),
            ("GANTRY_ARTIFACT_S3_REGION", "us-east-1".into()),
            (
                "GANTRY_ARTIFACT_S3_ACCESS_KEY_ID",
                self.access_key_id.clone(),
            ),
            ("GANTRY_ARTIFACT_S3_SECRET_ACCESS_KEY", secret.into()),
        ]
    }

    pub fn gantry_env(&self) -> Vec<(&'static str, String)> {
        self.gantry_env_with_secret(&self.secret_access_key)
    }

    /// The object at `key` (below the folder) as the S3 server holds it, read with curl's
    /// own SigV4 signing; none when the server says it is not there.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        let (status, body) = self.get(&format!("{}/{key}", self.prefix));
        match status.as_str() {
            "200" => Some(body),
            "404" => None,
            other => panic!("{key}: HTTP {other}"),
        }
    }

    /// How many multipart uploads under the folder were started and neither completed nor
    /// aborted (S3's ListMultipartUploads).
    pub fn unfinished_uploads(&self) -> usize {
        // curl signs the query as written: its parameters in S3's canonical (sorted) order.
        let (status, body) = self.get(&format!("?prefix={}%2F&uploads=", self.prefix));
        assert_eq!(status, "200", "{}", String::from_utf8_lossy(&body));
        String::from_utf8_lossy(&body).matches("<Upload>").count()
    }

    /// A signed GET of `path` in the bucket: the status and the body.
    fn get(&self, path: &str) -> (String, Vec<u8>) {
        let url = format!("{}/{}/{path}", self.endpoint, self.bucket);
        let body = tempfile::NamedTempFile::new().unwrap();
        let output = Command::new("curl")
            .args([
                "-s",
                "-w",
                "%{http_code}",
                "--aws-sigv4",
                "aws:amz:us-east-1:s3",
            ])
            .arg("--user")
            .arg(format!("{}:{}", self.access_key_id, self.secret_access_key))
            .arg("-o")
            .arg(body.path())
            .arg(&url)
            .output()
            .expect("curl runs");
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            std::fs::read(body.path()).unwrap(),
        )
    }
}
