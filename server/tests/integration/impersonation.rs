//! Gantry acts as its users on the real local cluster: `Cluster::as_user` impersonates
//! `gantry:<username>` in group `gantry:<role>`, and the RBAC of `k8s/base/rbac.yaml` plus the
//! seeded bindings (alice in team-a, bob in team-b) decide. A data scientist of team-a can
//! neither see nor create anything in team-b, whatever Gantry's own checks say. Gantry
//! itself connects as its ServiceAccount, never as the cluster's admin.

use std::time::Duration;

use crate::common::cluster::{gantry_kubeconfig_path, wait_for};
use crate::common::fixtures::IMAGE;
use gantry_app::auth::rules::{Namespaces, Principal, Role};
use gantry_app::cluster::{Cluster, ClusterSource, ClusterStatus};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::api::{ListParams, PostParams};
use kube::Api;

fn user(username: &str, role: Role, namespaces: &[&str]) -> Principal {
    Principal {
        username: username.into(),
        display_name: username.into(),
        role,
        namespaces: Namespaces::Only(namespaces.iter().map(|n| n.to_string()).collect()),
    }
}

fn job() -> Job {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": "impersonated" },
        "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "main", "image": IMAGE }]
        } } }
    }))
    .unwrap()
}

/// Whether the API server refused with 403.
fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(ref status)) if status.code == 403)
}

/// Gantry's connection to the test cluster, as the server builds it.
async fn gantry_cluster() -> Option<Cluster> {
    let kubeconfig = gantry_kubeconfig_path("impersonation")?;
    let cluster = Cluster::new(ClusterSource {
        kubeconfig: vec![kubeconfig],
        context: None,
        impersonate_groups: Vec::new(),
    });
    cluster.connect_and_watch().await;
    wait_for("Gantry to connect", Duration::from_secs(10), || async {
        matches!(cluster.status(), ClusterStatus::Connected { .. }).then_some(())
    })
    .await;
    Some(cluster)
}

/// The kubeconfig every test and the demo run Gantry with is its ServiceAccount's, bound to
/// `k8s/base/rbac.yaml` alone: it reads nodes, and Secrets are refused.
#[tokio::test]
async fn gantry_itself_is_its_service_account_and_cannot_read_secrets() {
    let Some(path) = gantry_kubeconfig_path("gantry-identity") else {
        return;
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let review: SelfSubjectReview = Api::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    let user = review.status.and_then(|s| s.user_info).unwrap_or_default();
    assert_eq!(
        user.username.as_deref(),
        Some("system:serviceaccount:gantry:gantry")
    );
    assert!(!Api::<Node>::all(client.clone())
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(forbidden(
        Api::<Secret>::all(client)
            .list(&ListParams::default())
            .await
    ));
}

#[tokio::test]
async fn a_team_a_data_scientist_can_neither_see_nor_create_anything_in_team_b() {
    let Some(cluster) = gantry_cluster().await else {
        return;
    };
    let alice = cluster
        .as_user(&user("alice", Role::DataScientist, &["team-a"]))
        .unwrap();
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };

    let own_pods: Api<Pod> = Api::namespaced(alice.clone(), "team-a");
    assert!(own_pods.list(&ListParams::default()).await.is_ok());
    let own_jobs: Api<Job> = Api::namespaced(alice.clone(), "team-a");
    own_jobs
        .create(&dry_run, &job())
        .await
        .expect("alice may create jobs in team-a");

    let other_pods: Api<Pod> = Api::namespaced(alice.clone(), "team-b");
    assert!(forbidden(other_pods.list(&ListParams::default()).await));
    assert!(forbidden(other_pods.get("anything").await));
    let other_jobs: Api<Job> = Api::namespaced(alice.clone(), "team-b");
    assert!(forbidden(other_jobs.create(&dry_run, &job()).await));
    let all_pods: Api<Pod> = Api::all(alice.clone());
    assert!(forbidden(all_pods.list(&ListParams::default()).await));

    // The GPU inventory is for everyone; changing nodes is not.
    let nodes: Api<Node> = Api::all(alice);
    assert!(nodes.list(&ListParams::default().limit(1)).await.is_ok());
    let cordon = kube::api::Patch::Merge(serde_json::json!({ "spec": { "unschedulable": true } }));
    let patch = kube::api::PatchParams {
        dry_run: true,
        ..Default::default()
    };
    assert!(forbidden(nodes.patch("gpu-h100-0", &patch, &cordon).await));
}

#[tokio::test]
async fn roles_follow_the_impersonated_group() {
    let Some(cluster) = gantry_cluster().await else {
        return;
    };
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };

    // A viewer with no binding in team-a sees nothing there and creates nothing.
    let viewer = cluster
        .as_user(&user("victor", Role::Viewer, &["team-a"]))
        .unwrap();
    let jobs: Api<Job> = Api::namespaced(viewer, "team-a");
    assert!(forbidden(jobs.create(&dry_run, &job()).await));

    // An ops admin works everywhere, nodes included, through the gantry:ops-admin group.
    let ops = cluster.as_user(&user("olga", Role::OpsAdmin, &[])).unwrap();
    let team_b: Api<Job> = Api::namespaced(ops.clone(), "team-b");
    team_b
        .create(&dry_run, &job())
        .await
        .expect("ops admins may create jobs anywhere");
    let nodes: Api<Node> = Api::all(ops);
    let cordon = kube::api::Patch::Merge(serde_json::json!({ "spec": { "unschedulable": true } }));
    let patch = kube::api::PatchParams {
        dry_run: true,
        ..Default::default()
    };
    nodes
        .patch("gpu-h100-0", &patch, &cordon)
        .await
        .expect("ops admins may cordon");
}

#[tokio::test]
async fn access_reviews_answer_for_the_impersonated_user_and_are_cached() {
    let Some(cluster) = gantry_cluster().await else {
        return;
    };
    let alice = user("alice", Role::DataScientist, &["team-a"]);
    let pods = ("", "pods");
    assert!(cluster
        .allowed(&alice, "list", pods, Some("team-a"))
        .await
        .unwrap());
    assert!(!cluster
        .allowed(&alice, "list", pods, Some("team-b"))
        .await
        .unwrap());
    assert!(!cluster
        .allowed(&alice, "create", ("batch", "jobs"), Some("team-b"))
        .await
        .unwrap());
    assert!(cluster
        .allowed(&alice, "list", ("", "nodes"), None)
        .await
        .unwrap());
    let ops = user("olga", Role::OpsAdmin, &[]);
    assert!(cluster
        .allowed(&ops, "patch", ("", "nodes"), None)
        .await
        .unwrap());

    // A second question within 30 s is answered from the cache. 1,000 reviews would take
    // seconds; 1,000 cache hits take microseconds each, so the bound is wide.
    let started = std::time::Instant::now();
    for _ in 0..1000 {
        assert!(!cluster
            .allowed(&alice, "list", pods, Some("team-b"))
            .await
            .unwrap());
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn users_and_groups_carry_the_gantry_prefix() {
    let (name, groups) =
        gantry_app::cluster::impersonation(&user("alice", Role::DataScientist, &[]));
    assert_eq!(name, "gantry:alice");
    assert_eq!(groups, ["gantry:data-scientist"]);
}
