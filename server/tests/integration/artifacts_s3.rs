//! The artifact store on S3-compatible storage: SeaweedFS, which the test command starts
//! beside the suite (`tools/s3/with-s3.sh`). The real MLflow client's whole flow with its
//! files there; an upload of several parts through Gantry, and one the store refuses; the
//! store itself mid-upload and past its bound. Each is checked at the S3 server, not only
//! through Gantry.

use axum::body::Body;
use gantry_app::models::artifacts::{ArtifactPath, Artifacts, StoreSettings};

use crate::common::s3::S3Folder;
use crate::common::server::TestServer;
use crate::models::{alice_and_experiment, run_the_mlflow_client};

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
fn uploads_to_s3_are_whole_and_a_store_failure_is_a_503() {
    let Some(folder) = S3Folder::for_test("s3-uploads") else {
        return;
    };
    // 12 MiB is three parts of a multipart upload (5 + 5 + 2).
    let server = spawn(&folder.gantry_env(), &[]);
    let (bearer, experiment) = alice_and_experiment(&server, "on-s3");
    let auth = [("Authorization", bearer.as_str())];
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

    let missing = server.request("GET", &url("model/none.bin"), "", &auth);
    assert_eq!(missing.status, 404, "{}", missing.body);

    // A store that refuses Gantry's signature: the caller hears the store is unavailable,
    // never that their request was wrong.
    drop(server);
    let wrong = spawn(&folder.gantry_env_with_secret("not-the-secret"), &[]);
    let (bearer, experiment) = alice_and_experiment(&wrong, "on-s3");
    let auth = [("Authorization", bearer.as_str())];
    let put = wrong.request(
        "PUT",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/r1/artifacts/a.txt"),
        "abc",
        &auth,
    );
    assert_eq!(put.status, 503, "{}", put.body);
    assert!(put.body.contains("artifact store"), "{}", put.body);
}

/// The store itself, between Gantry and SeaweedFS: a part already sent is neither listed nor
/// readable until the upload completes, and an upload past its bound is aborted, leaving no
/// object and no unfinished upload in the bucket.
#[tokio::test]
async fn an_s3_upload_appears_whole_or_not_at_all() {
    let Some(folder) = S3Folder::for_test("s3-store") else {
        return;
    };
    // What Gantry's main does first: reqwest here brings no TLS provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = tempfile::tempdir().unwrap();
    let max = 8 << 20;
    let store = Artifacts::open(&StoreSettings::S3(folder.settings()), data.path(), max).unwrap();
    let store = std::sync::Arc::new(store);
    let path = ArtifactPath::parse("1/r/artifacts/model/weights.bin").unwrap();
    let folder_path = ArtifactPath::parse("1/r/artifacts/model").unwrap();

    // 6 MiB sent: the first 5 MiB part is on the server, the upload is not complete.
    let (mut send, receive) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let uploading = tokio::spawn({
        let (store, path) = (store.clone(), path.clone());
        async move { store.put(&path, Body::from_stream(receive)).await }
    });
    futures::SinkExt::send(&mut send, Ok(vec![1u8; 6 << 20]))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while folder.unfinished_uploads() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no multipart upload started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(store.list(&folder_path).await.unwrap().is_none());
    assert_eq!(store.get(&path).await.err().unwrap().status_code(), 404);
    assert_eq!(folder.object("1/r/artifacts/model/weights.bin"), None);
    futures::SinkExt::send(&mut send, Ok(vec![2u8; 1 << 20]))
        .await
        .unwrap();
    drop(send);
    assert_eq!(uploading.await.unwrap().unwrap(), 7 << 20);
    let stored = folder.object("1/r/artifacts/model/weights.bin").unwrap();
    assert_eq!(stored.len(), 7 << 20);
    assert!(stored[..6 << 20].iter().all(|b| *b == 1) && stored[6 << 20..].iter().all(|b| *b == 2));
    assert_eq!(folder.unfinished_uploads(), 0);

    // Past the bound after a part was sent: refused, aborted, nothing left behind.
    let big = ArtifactPath::parse("1/r/artifacts/model/big.bin").unwrap();
    let chunks = (0..9).map(|_| Ok::<_, std::io::Error>(vec![3u8; 1 << 20]));
    let refused = store
        .put(&big, Body::from_stream(futures::stream::iter(chunks)))
        .await;
    assert_eq!(refused.err().unwrap().status_code(), 400);
    assert_eq!(folder.object("1/r/artifacts/model/big.bin"), None);
    assert_eq!(
        folder.unfinished_uploads(),
        0,
        "the refused upload was aborted"
    );
    let listed = store.list(&folder_path).await.unwrap().unwrap();
    assert_eq!(listed.len(), 1, "only weights.bin");
}
