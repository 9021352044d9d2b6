//! Optimisation jobs on the real local cluster: from a version, a tracked Job that converts it,
//! launched as the user; kwok runs no container, so the test does what the container's
//! script does (`app/src/models/optimise.py`) with the pod's own token: it logs the converted
//! file to the job's run and registers it as a version of the target model, made from the
//! parent. The new version's lineage then names the parent and the Job.

use crate::common::cluster::connect;
use crate::common::server::TestServer;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::json;

#[tokio::test]
async fn an_optimisation_job_converts_a_version_into_a_child_version_of_another_model() {
    let Some(test) = connect("optimise").await else {
        return;
    };
    let (server, admin) = TestServer::on_cluster_with(
        "optimise",
        &[("GANTRY_TRACKING_URI", "http://gantry.test:3000")],
    )
    .unwrap();
    let origin = server.base.clone();
    let mut cookies = Vec::new();
    for (name, role, namespace) in [
        ("alice", "data-scientist", "team-a"),
        ("vera", "viewer", "team-a"),
        ("bob", "data-scientist", "team-b"),
    ] {
        let password = format!("{name} long password");
        server.create_account(&admin, name, &password, role, namespace);
        cookies.push(server.login_as(name, &password));
    }
    let alice = [("Cookie", cookies[0].as_str()), ("Origin", origin.as_str())];
    let vera = [("Cookie", cookies[1].as_str()), ("Origin", origin.as_str())];
    let bob = [("Cookie", cookies[2].as_str()), ("Origin", origin.as_str())];
    let suffix = &test.namespace[test.namespace.len() - 6..];
    let (model, target) = (
        format!("scorer-{suffix}"),
        format!("scorer-{suffix}-tflite"),
    );
    for (path, body) in [
        (
            "registered-models/create",
            json!({ "name": model,
            "tags": [{ "key": "gantry.namespace", "value": "team-a" }] }),
        ),
        (
            "model-versions/create",
            json!({ "name": model, "source": "s3://models/scorer/1" }),
        ),
    ] {
        let sent = server.request_json("POST", &format!("/api/2.0/mlflow/{path}"), &body, &alice);
        assert_eq!(sent.status, 200, "{path}: {}", sent.body);
    }
    let optimise = |who: &[(&str, &str)], target: &str, quantise: &str| {
        let body = format!(
            "optimisation[model]={model}&optimisation[version]=1&optimisation[target]={target}\
             &optimisation[image]=tensorflow/tensorflow:2.17.0&optimisation[quantise]={quantise}"
        );
        server.request("POST", "/api/models/optimise", &body, who)
    };

    // A viewer may not, nor a data scientist of another namespace; a target that is the model
    // itself, or an unknown quantisation, is a field error; none of these creates a Job.
    assert_eq!(optimise(&vera, &target, "int8").status, 403);
    assert_eq!(optimise(&bob, &target, "int8").status, 403);
    let same = optimise(&alice, &model, "int8");
    assert_eq!(same.status, 400, "{}", same.body);
    assert!(same.body.contains("\"field\":\"target\""), "{}", same.body);
    let odd = optimise(&alice, &target, "int4");
    assert!(odd.body.contains("\"field\":\"quantise\""), "{}", odd.body);

    let launched = optimise(&alice, &target, "int8");
    assert_eq!(launched.status, 200, "{}", launched.body);
    let [namespace, name]: [String; 2] = serde_json::from_str(&launched.body).unwrap();
    assert_eq!(namespace, "team-a");
    let job = Api::<Job>::namespaced(test.client.clone(), "team-a")
        .get(&name)
        .await
        .unwrap();
    let container = job.spec.unwrap().template.spec.unwrap().containers[0].clone();
    assert_eq!(
        container.image.as_deref(),
        Some("tensorflow/tensorflow:2.17.0")
    );
    let env = container.env.unwrap();
    let variable = |n: &str| {
        env.iter()
            .find(|e| e.name == n)
            .unwrap_or_else(|| panic!("{n}"))
            .clone()
    };
    assert_eq!(
        variable("GANTRY_SOURCE_MODEL_URI").value.unwrap(),
        format!("models:/{model}/1")
    );
    assert_eq!(variable("GANTRY_TARGET_MODEL").value.unwrap(), target);
    let run_id = variable("MLFLOW_RUN_ID").value.unwrap();
    let secret = variable("MLFLOW_TRACKING_TOKEN")
        .value_from
        .unwrap()
        .secret_key_ref
        .unwrap()
        .name;
    let secret = Api::<Secret>::namespaced(test.client.clone(), "team-a")
        .get(&secret)
        .await
        .unwrap();
    let bearer = format!(
        "Bearer {}",
        String::from_utf8(secret.data.unwrap()["token"].0.clone()).unwrap()
    );
    let as_pod = [("Authorization", bearer.as_str())];

    // What optimise.py does once converted: the file into the run, then the new version.
    let run = server.request(
        "GET",
        &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
        "",
        &as_pod,
    );
    let experiment = run.json()["run"]["info"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let put = server.request(
        "PUT",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run_id}/artifacts/model/model.tflite"),
        "TFL3",
        &as_pod,
    );
    assert_eq!(put.status, 200, "{}", put.body);
    for (path, body) in [
        ("registered-models/create", json!({ "name": target })),
        (
            "model-versions/create",
            json!({ "name": target, "run_id": run_id,
            "source": format!("runs:/{run_id}/model"),
            "tags": [{ "key": "gantry.parent", "value": format!("models:/{model}/1") }] }),
        ),
    ] {
        let sent = server.request_json("POST", &format!("/api/2.0/mlflow/{path}"), &body, &as_pod);
        assert_eq!(sent.status, 200, "{path}: {}", sent.body);
    }

    // The child's page: made from the parent, by this Job.
    let child = server.request(
        "POST",
        "/api/models/version",
        &format!("name={target}&version=1"),
        &alice,
    );
    assert_eq!(child.status, 200, "{}", child.body);
    let child = child.json();
    assert_eq!(child["parent"], json!([model, 1]), "{child}");
    assert_eq!(child["namespace"], "team-a");
    assert_eq!(child["job"]["Ok"]["name"], name.as_str(), "{child}");
    assert_eq!(child["job"]["Ok"]["image"], "tensorflow/tensorflow:2.17.0");
    assert_eq!(child["run"]["run"]["id"], run_id.as_str());
}
