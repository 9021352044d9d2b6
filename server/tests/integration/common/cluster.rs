//! Connects integration tests to the real local cluster (kube-apiserver, controller
//! manager, scheduler, kwok nodes) that the test command starts with
//! `tools/cluster/up.sh` and seeds with the shared GPU fleet. The tests set up and check
//! as the cluster's admin; Gantry connects as its own ServiceAccount.
//!
//! The test command exports `GANTRY_TEST_KUBECONFIG` and `GANTRY_TEST_REQUIRE_CLUSTER=1`:
//! there a missing cluster fails the test. A plain `cargo test` has neither, and the
//! cluster tests skip with a message on stderr saying how to run them.
//!
//! Every test gets a namespace of its own. Namespaces are not deleted: the test command
//! throws the whole cluster away after the run.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

pub struct TestCluster {
    pub client: Client,
    pub namespace: String,
}

/// The local cluster's kubeconfig, or `None` (after saying so loudly) when no cluster was
/// provided and none is required.
pub fn kubeconfig_path(test: &str) -> Option<std::path::PathBuf> {
    let Some(path) = std::env::var_os("GANTRY_TEST_KUBECONFIG") else {
        if std::env::var("GANTRY_TEST_REQUIRE_CLUSTER").as_deref() == Ok("1") {
            panic!("GANTRY_TEST_REQUIRE_CLUSTER=1 but GANTRY_TEST_KUBECONFIG is not set");
        }
        // Written to the stream itself, not with eprintln!, which libtest captures and
        // shows only for failing tests: a skip has to be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: needs the local cluster. Run `make test`, or start one with \
             `tools/cluster/up.sh DIR && tools/cluster/seed.sh DIR/kubeconfig` and set \
             GANTRY_TEST_KUBECONFIG=DIR/kubeconfig ***\n"
        );
        return None;
    };
    Some(path.into())
}

/// A setting the test command exports beside the cluster (`GANTRY_TEST_PROMETHEUS_URL`,
/// `GANTRY_TEST_CLUSTER_BIN`, `GANTRY_TEST_KUBECTL`): `None` outside it, a failure when the
/// cluster is required and the setting is missing.
pub fn cluster_setting(name: &str) -> Option<String> {
    let value = std::env::var(name).ok();
    if value.is_none() && std::env::var("GANTRY_TEST_REQUIRE_CLUSTER").as_deref() == Ok("1") {
        panic!("GANTRY_TEST_REQUIRE_CLUSTER=1 but {name} is not set");
    }
    value
}

/// The kubeconfig Gantry connects with: its own ServiceAccount's (a TokenRequest token,
/// bound to `k8s/base/rbac.yaml`), which `tools/cluster/seed.sh` writes beside the admin's. The
/// admin's certificate is for the tests' own set-up and checks only; `None` as for
/// [`kubeconfig_path`].
pub fn gantry_kubeconfig_path(test: &str) -> Option<std::path::PathBuf> {
    let gantry = kubeconfig_path(test)?.with_file_name("gantry.kubeconfig");
    assert!(
        gantry.exists(),
        "{} is missing: tools/cluster/seed.sh writes it",
        gantry.display()
    );
    Some(gantry)
}

/// The local cluster with a fresh namespace named after `test`, or `None` when
/// [`kubeconfig_path`] says to skip.
pub async fn connect(test: &str) -> Option<TestCluster> {
    let path = kubeconfig_path(test)?;
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("reading GANTRY_TEST_KUBECONFIG={}: {e}", path.display()));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    let client = Client::try_from(config).expect("a kube client");

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("{}-{:08x}", test.replace('_', "-"), nanos)
        .chars()
        .take(63)
        .collect::<String>();
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {namespace}: {e}"));
    // Pods need the namespace's default ServiceAccount, which the controller manager adds.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), &namespace);
    wait_for(
        "the default ServiceAccount",
        Duration::from_secs(30),
        || async { accounts.get_opt("default").await.ok().flatten() },
    )
    .await;
    Some(TestCluster { client, namespace })
}

/// Polls `check` every 200 ms until it returns `Some`, failing the test with `what`
/// after `timeout`. The cluster is real: things take the time they take.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
