//! The GPU inventory as an open page sees it, on the real local cluster: the nodes stream
//! pushes a delta when the scheduler binds a GPU pod, and an ops admin cordons through the
//! API, as themselves, on the record.

use std::time::Duration;

use crate::common::cluster::{connect, wait_for};
use crate::common::fixtures::gpu_pod;
use crate::common::server::{assert_contains, TestServer};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::Api;

fn row<'a>(update: &'a serde_json::Value, node: &str) -> Option<&'a serde_json::Value> {
    update["Ok"]["rows"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == node)
}

#[tokio::test]
async fn the_stream_pushes_only_the_changed_row_when_a_gpu_pod_is_bound() {
    let Some(test) = connect("gpu-live").await else {
        return;
    };
    let (server, cookie) = TestServer::on_cluster("gpu-live").unwrap();
    let node = "gpu-a100-2";
    let mut events = server.events(
        "/api/v1/gpu-nodes/stream?model=NVIDIA-A100-SXM4-40GB",
        &cookie,
    );
    let snapshot = events.next();
    assert_eq!(snapshot["Ok"]["kind"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["Ok"]["matching"], 4);
    let before = row(&snapshot, node).unwrap()["allocated"].as_i64().unwrap();

    let pods: Api<Pod> = Api::namespaced(test.client.clone(), &test.namespace);
    let pod = gpu_pod("takes-two", 2, Some(node));
    pods.create(&PostParams::default(), &pod).await.unwrap();
    // The scheduler binds it; the next delta carries that node's row, and only rows that
    // changed (other tests may touch other A100s, never this one).
    let delta = loop {
        let update = events.next();
        assert_eq!(update["Ok"]["kind"], "delta", "{update}");
        if row(&update, node).is_some() {
            break update;
        }
    };
    let changed = row(&delta, node).unwrap();
    assert_eq!(
        changed["allocated"].as_i64().unwrap(),
        before + 2,
        "{delta}"
    );
    assert_eq!(delta["Ok"]["order"].as_array().unwrap().len(), 4);
    assert!(delta["Ok"]["rows"].as_array().unwrap().len() < 4, "{delta}");

    pods.delete("takes-two", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    loop {
        let update = events.next();
        if let Some(row) = row(&update, node) {
            assert_eq!(row["allocated"].as_i64().unwrap(), before);
            break;
        }
    }
}

#[tokio::test]
async fn an_ops_admin_cordons_and_uncordons_through_the_api_on_the_record() {
    let Some(test) = connect("gpu-cordon").await else {
        return;
    };
    let (server, cookie) = TestServer::on_cluster("gpu-cordon").unwrap();
    let origin = server.base.clone();
    let node = "gpu-l4-1";
    let nodes: Api<Node> = Api::all(test.client.clone());
    let unschedulable = || async {
        nodes
            .get(node)
            .await
            .unwrap()
            .spec
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
    };
    for cordon in [true, false] {
        let answer = server.request(
            "POST",
            "/api/nodes/cordon",
            &format!("node={node}&cordon={cordon}"),
            &[("Cookie", &cookie), ("Origin", &origin)],
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(unschedulable().await, cordon);
        wait_for(
            "the JSON API to show the change",
            Duration::from_secs(10),
            || async {
                let page = server
                    .request(
                        "GET",
                        &format!("/api/v1/gpu-nodes?search={node}"),
                        "",
                        &[("Cookie", &cookie)],
                    )
                    .json();
                (page["rows"][0]["health"]["cordoned"] == cordon).then_some(())
            },
        )
        .await;
    }
    let bad = server.request(
        "POST",
        "/api/nodes/cordon",
        "node=Not_A_Node&cordon=true",
        &[("Cookie", &cookie), ("Origin", &origin)],
    );
    assert_eq!(bad.status, 400);
    assert_contains(&bad.body, "node");
    let audit = server.request("GET", "/admin/audit.csv", "", &[("Cookie", &cookie)]);
    assert_contains(&audit.body, &format!("node.cordon,node/{node}"));
    assert_contains(&audit.body, &format!("node.uncordon,node/{node}"));
}
