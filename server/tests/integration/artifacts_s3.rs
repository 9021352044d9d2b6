//! The artifact store on S3-compatible storage: SeaweedFS, which the test command starts
//! beside the suite (`tools/s3/with-s3.sh`). The real MLflow client's whole flow with its
//! files there; an upload of several parts, one refused past its bound and one the store
//! refuses, each checked at the S3 server itself, not only through Gantry.

use crate::common::s3::S3Folder;
use crate::common::server::TestServer;
use crate::models::{mlflow, run_the_mlflow_client};

fn spawn(env: &[(&'static str, String)], extra: &[(&'static str, &str)]) -> TestServer {
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    TestServer::spawn_with(&all)
}

#[test]
fn the_real_mlflow_client_keeps_its_files_in_the_bucket() {
    let Some(folder) = S3Folder::for_test("s3-client") else {
        return;
    };
    let server = spawn(&folder.gantry_env(), &[]);
    if !run_the_mlflow_client(&server) {
        return;
    }
    // The logged model's files are objects of the bucket; Gantry's disk holds none.
    let models = server.database().texts(
        "SELECT CAST(experiment_id AS TEXT) || '/models/' || id || '/artifacts/MLmodel' \
         FROM mlflow_logged_models",
    );
    assert!(!models.is_empty());
    for key in &models {
        let mlmodel = folder
            .object(key)
            .unwrap_or_else(|| panic!("{key} is not in S3"));
        assert!(
            String::from_utf8_lossy(&mlmodel).contains("flavors"),
            "{key}"
        );
    }
    assert!(!server.data.path().join("artifacts").exists());
}

#[test]
fn uploads_to_s3_are_whole_bounded_and_a_store_failure_is_a_503() {
    let Some(folder) = S3Folder::for_test("s3-uploads") else {
        return;
    };
    // 16 MiB at most: 12 MiB is three parts of a multipart upload (5 + 5 + 2).
    let server = spawn(
        &folder.gantry_env(),
        &[("GANTRY_ARTIFACT_MAX_BYTES", "16777216")],
    );
    let admin = server.login();
    server.create_account(
        &admin,
        "alice",
        "alice long password",
        "data-scientist",
        "team-a",
    );
    let alice = server.login_as("alice", "alice long password");
    let bearer = format!("Bearer {}", server.create_token(&alice));
    let auth = [("Authorization", bearer.as_str())];
    let experiment = mlflow(
        &server,
        "experiments/create",
        serde_json::json!({ "name": "on-s3" }),
        &auth,
    )["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = |file: &str| format!("{experiment}/r1/artifacts/{file}");
    let url = |file: &str| format!("/api/2.0/mlflow-artifacts/artifacts/{}", key(file));
    let listing = format!("/api/2.0/mlflow-artifacts/artifacts?path={experiment}/r1/artifacts");

    let weights: String = (0..12 * 1024 * 1024)
        .map(|i| (b'a' + (i % 23) as u8) as char)
        .collect();
    let stored = server.request("PUT", &url("model/weights.bin"), &weights, &auth);
    assert_eq!(stored.status, 200, "{}", stored.body);
    let read = server.request("GET", &url("model/weights.bin"), "", &auth);
    assert_eq!(read.status, 200);
    assert!(read.body == weights, "the download differs from the upload");
    let in_s3 = folder
        .object(&key("model/weights.bin"))
        .expect("the object is in S3");
    assert!(in_s3 == weights.as_bytes(), "S3 holds other bytes");
    let listed = server.request("GET", &listing, "", &auth).json();
    assert_eq!(
        listed,
        serde_json::json!({ "files": [{ "path": "model", "is_dir": true }] })
    );

    // Past the bound: refused, and neither listed nor left in the bucket.
    let too_big = "x".repeat(16 * 1024 * 1024 + 1);
    let refused = server.request("PUT", &url("model/big.bin"), &too_big, &auth);
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert_eq!(folder.object(&key("model/big.bin")), None);
    let model = format!("/api/2.0/mlflow-artifacts/artifacts?path={experiment}/r1/artifacts/model");
    let listed = server.request("GET", &model, "", &auth).json();
    assert_eq!(
        listed,
        serde_json::json!({ "files": [
            { "path": "model/weights.bin", "is_dir": false, "file_size": 12 * 1024 * 1024 }
        ] })
    );
    let missing = server.request("GET", &url("model/none.bin"), "", &auth);
    assert_eq!(missing.status, 404, "{}", missing.body);

    // A store that refuses Gantry's signature: the caller hears the store is unavailable,
    // never that their request was wrong.
    drop(server);
    let wrong = spawn(&folder.gantry_env_with_secret("not-the-secret"), &[]);
    let admin = wrong.login();
    wrong.create_account(
        &admin,
        "alice",
        "alice long password",
        "data-scientist",
        "team-a",
    );
    let alice = wrong.login_as("alice", "alice long password");
    let bearer = format!("Bearer {}", wrong.create_token(&alice));
    let auth = [("Authorization", bearer.as_str())];
    let experiment = mlflow(
        &wrong,
        "experiments/create",
        serde_json::json!({ "name": "on-s3" }),
        &auth,
    )["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let put = wrong.request(
        "PUT",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/r1/artifacts/a.txt"),
        "abc",
        &auth,
    );
    assert_eq!(put.status, 503, "{}", put.body);
    assert!(put.body.contains("artifact store"), "{}", put.body);
}
