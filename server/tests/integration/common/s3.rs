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
        let url = format!("{}/{}/{}/{key}", self.endpoint, self.bucket, self.prefix);
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
        match String::from_utf8_lossy(&output.stdout).as_ref() {
            "200" => Some(std::fs::read(body.path()).unwrap()),
            "404" => None,
            other => panic!("{url}: HTTP {other}"),
        }
    }
}
