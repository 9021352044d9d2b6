//! The Serving area on the real local cluster with the real KServe controller: an
//! InferenceService reconciled by KServe into a Deployment and an HPA is listed with its
//! replicas, autoscaling and registered version, and a model-serving Deployment with its
//! revisions and pods bound by the scheduler; scaling goes out as the user, refused for a
//! viewer and outside an ops admin's namespaces, refused while an HPA sets the replicas,
//! and of two people scaling from the same version one wins and the other hears 409;
//! autoscaling (an HPA, an InferenceService's bounds) likewise.

use std::time::Duration;

use crate::common::cluster::{cluster_setting, connect, wait_for, TestCluster};
use crate::common::server::{assert_contains, TestServer};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

fn inference_services() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "serving.kserve.io",
        "v1beta1",
        "InferenceService",
    ))
}

/// A TF Serving Deployment (recognised by its image) with `replicas`.
fn tf_serving(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{
                    "name": "serving",
                    "image": "tensorflow/serving:2.15.0",
                    "args": [format!("--model_base_path=s3://models/{name}/1")],
                    "resources": { "requests": { "cpu": "100m" } }
                }] }
            }
        }
    }))
    .unwrap()
}

struct Gantry {
    server: TestServer,
    cookie: String,
}

impl Gantry {
    fn start(test: &str) -> Option<Gantry> {
        let (server, cookie) = TestServer::on_cluster(test)?;
        Some(Gantry { server, cookie })
    }

    fn get(&self, path: &str, cookie: &str) -> crate::common::server::Response {
        self.server.request("GET", path, "", &[("Cookie", cookie)])
    }

    fn post(&self, path: &str, body: &Value, cookie: &str) -> crate::common::server::Response {
        self.send("POST", path, body, cookie)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        cookie: &str,
    ) -> crate::common::server::Response {
        let origin = self.server.base.clone();
        self.server.request_json(
            method,
            path,
            body,
            &[("Cookie", cookie), ("Origin", &origin)],
        )
    }

    /// Who must be refused any change in `namespace`: a viewer there (vera) and an ops
    /// admin of other namespaces (otto), with their session cookies.
    fn outsiders(&self, namespace: &str) -> [(&'static str, String); 2] {
        let password = "a long enough password";
        self.server
            .create_account(&self.cookie, "vera", password, "viewer", namespace);
        self.server
            .create_account(&self.cookie, "otto", password, "ops-admin", "team-b");
        ["vera", "otto"].map(|user| (user, self.server.login_as(user, password)))
    }

    /// The list's row for `name` in `namespace` once `check` accepts it.
    async fn row_when(&self, namespace: &str, name: &str, check: impl Fn(&Value) -> bool) -> Value {
        wait_for(
            &format!("{namespace}/{name} in the services list"),
            Duration::from_secs(60),
            || async {
                // Any page: other tests' services may come first.
                for page in 0.. {
                    let response = self.get(&format!("/api/v1/services?page={page}"), &self.cookie);
                    assert_eq!(response.status, 200, "{}", response.body);
                    let list = response.json();
                    let rows = list["rows"].as_array().unwrap();
                    if let Some(row) = rows
                        .iter()
                        .find(|r| r["namespace"] == namespace && r["name"] == name && check(r))
                    {
                        return Some(row.clone());
                    }
                    if rows.is_empty() {
                        return None;
                    }
                }
                None
            },
        )
        .await
    }

    fn detail(&self, kind: &str, namespace: &str, name: &str) -> Value {
        let response = self.get(
            &format!("/api/v1/services/{kind}/{namespace}/{name}"),
            &self.cookie,
        );
        assert_eq!(response.status, 200, "{}", response.body);
        response.json()
    }

    /// The timeline row of a Deployment whose change mentions `change`, once there is one.
    async fn history_row(&self, namespace: &str, name: &str, change: &str) -> Value {
        wait_for(
            &format!("a history row of {name} with {change}"),
            Duration::from_secs(30),
            || async {
                self.detail("deployment", namespace, name)["history"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|h| h["change"].as_str().unwrap().contains(change))
                    .cloned()
            },
        )
        .await
    }
}

#[tokio::test]
async fn an_inference_service_reconciled_by_kserve_is_listed_with_its_version_and_autoscaler() {
    let Some(TestCluster { client, namespace }) = connect("serving_listed").await else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_listed") else {
        return;
    };
    let uri = format!("gs://models/{namespace}/iris/1");
    // The registry knows the URI as version 1 of a model in the same namespace.
    let origin = gantry.server.base.clone();
    let auth = [
        ("Cookie", gantry.cookie.as_str()),
        ("Origin", origin.as_str()),
    ];
    for (path, body) in [
        (
            "registered-models/create",
            json!({ "name": format!("iris-{namespace}"), "tags": [{ "key": "gantry.namespace", "value": namespace }] }),
        ),
        (
            "model-versions/create",
            json!({ "name": format!("iris-{namespace}"), "source": uri }),
        ),
    ] {
        let response =
            gantry
                .server
                .request_json("POST", &format!("/api/2.0/mlflow/{path}"), &body, &auth);
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    }
    let isvc: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": { "name": "iris", "namespace": namespace },
        "spec": { "predictor": {
            "minReplicas": 1, "maxReplicas": 2,
            "model": { "modelFormat": { "name": "sklearn" }, "storageUri": uri,
                "resources": { "requests": { "cpu": "100m", "memory": "128Mi" } } }
        } }
    }))
    .unwrap();
    Api::<DynamicObject>::namespaced_with(client.clone(), &namespace, &inference_services())
        .create(&PostParams::default(), &isvc)
        .await
        .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &tf_serving("resnet", 1))
        .await
        .unwrap();

    let row = gantry
        .row_when(&namespace, "iris", |r| {
            r["ready"] == true && r["replicas"]["ready"] == 1 && !r["autoscaling"].is_null()
        })
        .await;
    assert_eq!(row["kind"], "InferenceService");
    assert_eq!(row["server"], "KServe sklearn");
    assert_eq!(row["model"], uri.as_str());
    assert_eq!(row["version"], format!("iris-{namespace} v1").as_str());
    // The HPA is KServe's, made from the InferenceService's bounds.
    assert_eq!(row["autoscaling"]["min"], 1);
    assert_eq!(row["autoscaling"]["max"], 2);
    assert_eq!(
        row["url"],
        format!("http://iris-{namespace}.example.com").as_str()
    );
    // KServe's defaulter ran (registered by URL with the API server).
    let stored =
        Api::<DynamicObject>::namespaced_with(client.clone(), &namespace, &inference_services())
            .get("iris")
            .await
            .unwrap();
    assert_eq!(
        stored.metadata.annotations.unwrap_or_default()["serving.kserve.io/deploymentMode"],
        "Standard"
    );
    let detail = gantry.detail("inferenceservice", &namespace, "iris");
    assert_eq!(detail["deployment"], "iris-predictor");
    let pods = detail["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 1, "{detail}");
    assert!(
        pods[0]["node"].as_str().is_some(),
        "bound by the scheduler: {detail}"
    );

    // Scaling an InferenceService sets its predictor's minimum, which KServe's HPA takes up.
    let scaled = gantry.post(
        &format!("/api/v1/services/inferenceservice/{namespace}/iris/scale"),
        &json!({ "replicas": 2, "generation": detail["generation"] }),
        &gantry.cookie,
    );
    assert_eq!(scaled.status, 204, "{}", scaled.body);
    let stored =
        Api::<DynamicObject>::namespaced_with(client.clone(), &namespace, &inference_services())
            .get("iris")
            .await
            .unwrap();
    assert_eq!(stored.data["spec"]["predictor"]["minReplicas"], 2);
    assert_eq!(stored.data["spec"]["predictor"]["maxReplicas"], 2);
    gantry
        .row_when(&namespace, "iris", |r| {
            r["replicas"]["desired"] == 2 && r["replicas"]["ready"] == 2
        })
        .await;

    // Its autoscaling is its predictor's bounds and metric, which KServe's HPA follows; the
    // HPA itself is KServe's to keep.
    let based_on = gantry.detail("inferenceservice", &namespace, "iris")["generation"].to_string();
    let autoscaling = format!("/api/v1/services/inferenceservice/{namespace}/iris/autoscaling");
    let set = gantry.server.request_json(
        "PUT",
        &autoscaling,
        &json!({ "min": 2, "max": 4, "goal": { "metric": "memory", "value": 60 }, "based_on": based_on }),
        &auth,
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let stored =
        Api::<DynamicObject>::namespaced_with(client.clone(), &namespace, &inference_services())
            .get("iris")
            .await
            .unwrap();
    assert_eq!(stored.data["spec"]["predictor"]["scaleMetric"], "memory");
    assert_eq!(stored.data["spec"]["predictor"]["scaleTarget"], 60);
    gantry
        .row_when(&namespace, "iris", |r| {
            r["autoscaling"]["max"] == 4 && r["autoscaling"]["target"] == "memory 60%"
        })
        .await;
    let kept = gantry.server.request_json(
        "DELETE",
        &autoscaling,
        &json!({ "based_on": based_on }),
        &auth,
    );
    assert_eq!(kept.status, 400, "{}", kept.body);
    assert_contains(&kept.body, "kind");

    let row = gantry
        .row_when(&namespace, "resnet", |r| r["ready"] == true)
        .await;
    assert_eq!(row["kind"], "Deployment");
    assert_eq!(row["server"], "TF Serving");
    assert_eq!(row["model"], "s3://models/resnet/1");
    let detail = gantry.detail("deployment", &namespace, "resnet");
    assert_eq!(detail["revisions"][0]["number"], 1);
    assert_eq!(detail["revisions"][0]["current"], true);
    assert_eq!(detail["pods"][0]["revision"], 1);
    assert_eq!(detail["pods"][0]["ready"], true);
}

#[tokio::test]
async fn scaling_goes_out_as_the_user_once_per_version_and_not_past_an_autoscaler() {
    let Some(TestCluster { client, namespace }) = connect("serving_scaled").await else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_scaled") else {
        return;
    };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    deployments
        .create(&PostParams::default(), &tf_serving("scaled", 1))
        .await
        .unwrap();
    gantry
        .row_when(&namespace, "scaled", |r| r["ready"] == true)
        .await;
    let version = gantry.detail("deployment", &namespace, "scaled")["generation"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/services/deployment/{namespace}/scaled/scale");

    // A viewer, and an ops admin of other namespaces, are refused by Gantry; nothing changes.
    let admin = gantry.cookie.clone();
    for (user, cookie) in gantry.outsiders(&namespace) {
        let refused = gantry.post(
            &path,
            &json!({ "replicas": 3, "generation": version }),
            &cookie,
        );
        assert_eq!(refused.status, 403, "{user}: {}", refused.body);
    }
    let bad = gantry.post(
        &path,
        &json!({ "replicas": 5000, "generation": version }),
        &admin,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_contains(&bad.body, "replicas");

    // A write that is not to the spec (a label here; a rollout's status updates are
    // others) gives the Deployment a new resourceVersion and leaves its generation: changes
    // based on the generation still land. (An annotation would not do: a Deployment's
    // generation moves with its annotations too.)
    let before = deployments.get("scaled").await.unwrap().metadata;
    let touched = deployments
        .patch(
            "scaled",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "example.com/touched": "yes" } } })),
        )
        .await
        .unwrap()
        .metadata;
    assert_ne!(touched.resource_version, before.resource_version);
    assert_eq!(touched.generation, Some(version));

    // Two scales from the same generation: one lands, the other is told who changed it.
    let (a, b) = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            gantry.post(
                &path,
                &json!({ "replicas": 2, "generation": version }),
                &admin,
            )
        });
        let second = scope.spawn(|| {
            gantry.post(
                &path,
                &json!({ "replicas": 3, "generation": version }),
                &admin,
            )
        });
        (first.join().unwrap(), second.join().unwrap())
    });
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [204, 409], "{} / {}", a.body, b.body);
    let (winner, loser) = if a.status == 204 { (2, &b) } else { (3, &a) };
    assert_contains(&loser.body, "since you opened it");
    assert_contains(&loser.body, "gantry:admin");
    let stored = deployments.get("scaled").await.unwrap();
    assert_eq!(stored.spec.unwrap().replicas, Some(winner));
    // The change went out as the user: the API server recorded Gantry's user as its manager.
    assert!(stored
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .any(|f| f.manager.as_deref() == Some("gantry:admin")));
    gantry
        .row_when(&namespace, "scaled", |r| r["replicas"]["ready"] == winner)
        .await;

    // Once an HPA scales it, Gantry says so instead of fighting it.
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": { "name": "scaled" },
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled" },
            "minReplicas": 1, "maxReplicas": 4,
            "metrics": [{ "type": "Resource", "resource": { "name": "cpu",
                "target": { "type": "Utilization", "averageUtilization": 60 } } }]
        }
    }))
    .unwrap();
    Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &hpa)
        .await
        .unwrap();
    gantry
        .row_when(&namespace, "scaled", |r| r["autoscaling"]["max"] == 4)
        .await;
    let version = gantry.detail("deployment", &namespace, "scaled")["generation"]
        .as_i64()
        .unwrap();
    let owned = gantry.post(
        &path,
        &json!({ "replicas": 1, "generation": version }),
        &admin,
    );
    assert_eq!(owned.status, 409, "{}", owned.body);
    assert_contains(&owned.body, "HorizontalPodAutoscaler scaled");

    // Every attempt that reached the cluster is in the audit log with its outcome.
    let audit = gantry.get(
        &format!("/admin/audit.csv?action=service.scale&object=deployment/{namespace}/scaled"),
        &admin,
    );
    assert_eq!(audit.status, 200, "{}", audit.body);
    let outcomes: Vec<&str> = audit
        .body
        .lines()
        .filter(|l| l.contains("service.scale") && !l.contains("attempted"))
        .collect();
    assert_eq!(outcomes.len(), 3, "{}", audit.body);
    assert_eq!(
        outcomes.iter().filter(|l| l.contains(",ok,")).count(),
        1,
        "{}",
        audit.body
    );
}

/// Autoscaling goes out as the user: an HPA created, changed (to a custom metric too) and
/// deleted, each from the spec the caller saw; refused for a viewer and outside an ops
/// admin's namespaces; of two changes from one spec one lands; a change made elsewhere
/// meanwhile is a 409 naming its author.
#[tokio::test]
async fn autoscaling_goes_out_as_the_user_from_the_spec_the_caller_saw() {
    let Some(TestCluster { client, namespace }) = connect("serving_autoscaled").await else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_autoscaled") else {
        return;
    };
    Api::<Deployment>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &tf_serving("auto", 2))
        .await
        .unwrap();
    gantry
        .row_when(&namespace, "auto", |r| r["ready"] == true)
        .await;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &namespace);
    let path = format!("/api/v1/services/deployment/{namespace}/auto/autoscaling");
    let admin = gantry.cookie.clone();
    let send = |method: &str, body: Value, cookie: &str| gantry.send(method, &path, &body, cookie);
    let change = |max: i32, metric: &str, value: i32, based_on: &str| json!({ "min": 1, "max": max, "goal": { "metric": metric, "value": value }, "based_on": based_on });
    // What the page shows as the HPA's fingerprint, once the watch has seen `check` hold.
    let seen = |check: fn(&Value) -> bool| {
        let gantry = &gantry;
        let namespace = namespace.clone();
        async move {
            let row = gantry.row_when(&namespace, "auto", check).await;
            row["autoscaling"]["fingerprint"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    for (user, cookie) in gantry.outsiders(&namespace) {
        let refused = send("PUT", change(3, "cpu", 75, ""), &cookie);
        assert_eq!(refused.status, 403, "{user}: {}", refused.body);
    }
    let bad = send("PUT", change(3, "cpu", 0, ""), &admin);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_contains(&bad.body, "goal.value");
    assert!(hpas.get_opt("auto").await.unwrap().is_none());

    // Created as the user, named as the Deployment.
    let created = send("PUT", change(3, "cpu", 75, ""), &admin);
    assert_eq!(created.status, 200, "{}", created.body);
    assert_contains(&created.body, "Created the HorizontalPodAutoscaler auto");
    let hpa = hpas.get("auto").await.unwrap();
    assert_eq!((hpa.spec.min_replicas, hpa.spec.max_replicas), (Some(1), 3));
    assert!(hpa
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .any(|f| f.manager.as_deref() == Some("gantry:admin")));
    // The timeline says who changed the autoscaling: the HPA's writer, not the Deployment's.
    assert_eq!(
        gantry
            .history_row(&namespace, "auto", "autoscaling none → 1–3 on cpu 75%")
            .await["actor"],
        "gantry:admin"
    );
    // Whoever still saw none hears that one was made.
    let again = send("PUT", change(4, "cpu", 75, ""), &admin);
    assert_eq!(again.status, 409, "{}", again.body);
    assert_contains(&again.body, "gantry:admin");

    // Two changes from the same spec: one lands, the other is told who changed it.
    let fingerprint = seen(|r| r["autoscaling"]["target"] == "cpu 75%").await;
    let (a, b) = std::thread::scope(|scope| {
        let first = scope.spawn(|| send("PUT", change(4, "cpu", 75, &fingerprint), &admin));
        let second = scope.spawn(|| send("PUT", change(5, "cpu", 75, &fingerprint), &admin));
        (first.join().unwrap(), second.join().unwrap())
    });
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
    let (winner, loser) = if a.status == 200 { (4, &b) } else { (5, &a) };
    assert_contains(&loser.body, "since you opened it");
    assert_eq!(hpas.get("auto").await.unwrap().spec.max_replicas, winner);

    // A change made elsewhere (kubectl edit, say) makes the page's fingerprint stale. It
    // comes a second later, as a person's would: managedFields times are whole seconds, and
    // of two writers in the same second one object cannot tell which wrote last.
    let stale = seen(|r| r["autoscaling"]["max"] != 3).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    hpas.patch(
        "auto",
        &PatchParams::apply("kubectl-edit").force(),
        &Patch::Apply(json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": { "maxReplicas": 6,
                "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "auto" } }
        })),
    )
    .await
    .unwrap();
    let refused = send("PUT", change(7, "cpu", 75, &stale), &admin);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_contains(&refused.body, "kubectl-edit");
    assert_eq!(
        gantry
            .history_row(
                &namespace,
                "auto",
                &format!("1–{winner} on cpu 75% → 1–6 on cpu 75%")
            )
            .await["actor"],
        "kubectl-edit"
    );

    // A custom per-pod metric replaces the HPA's metrics.
    let fresh = seen(|r| r["autoscaling"]["max"] == 6).await;
    let custom = send("PUT", change(6, "requests_per_second", 20, &fresh), &admin);
    assert_eq!(custom.status, 200, "{}", custom.body);
    let metrics = hpas.get("auto").await.unwrap().spec.metrics.unwrap();
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    let pods = metrics[0].pods.as_ref().unwrap();
    assert_eq!(pods.metric.name, "requests_per_second");
    assert_eq!(pods.target.average_value.as_ref().unwrap().0, "20");

    // Deleted only from the spec the caller saw; the replicas stay.
    let fresh = seen(|r| r["autoscaling"]["target"] == "requests_per_second 20 per pod").await;
    let refused = send("DELETE", json!({ "based_on": stale }), &admin);
    assert_eq!(refused.status, 409, "{}", refused.body);
    let removed = send("DELETE", json!({ "based_on": fresh }), &admin);
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(hpas.get_opt("auto").await.unwrap().is_none());
    let gone = send("DELETE", json!({ "based_on": fresh }), &admin);
    assert_eq!(gone.status, 409, "{}", gone.body);
    assert_contains(&gone.body, "has no HorizontalPodAutoscaler");
    gantry
        .row_when(&namespace, "auto", |r| r["autoscaling"].is_null())
        .await;

    // Every attempt that reached the cluster is in the audit log with its outcome.
    let audit = gantry.get(
        &format!("/admin/audit.csv?object=deployment/{namespace}/auto"),
        &admin,
    );
    assert_eq!(audit.status, 200, "{}", audit.body);
    let ok = |action: &str| {
        audit
            .body
            .lines()
            .filter(|l| l.contains(&format!(",{action},")) && l.contains(",ok,"))
            .count()
    };
    assert_eq!(ok("service.autoscale"), 3, "{}", audit.body);
    assert_eq!(ok("service.autoscale.remove"), 1, "{}", audit.body);
}

/// The timeline keeps every change the watches see, whoever made it: a scale in Gantry is
/// its user's, one made with kubectl is kubectl's, and a new image is a new revision.
#[tokio::test]
async fn the_history_records_changes_made_in_gantry_and_with_kubectl() {
    let Some(TestCluster { client, namespace }) = connect("serving_history").await else {
        return;
    };
    let Some(kubectl) = cluster_setting("GANTRY_TEST_KUBECTL") else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_history") else {
        return;
    };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    deployments
        .create(&PostParams::default(), &tf_serving("timeline", 1))
        .await
        .unwrap();
    gantry
        .row_when(&namespace, "timeline", |r| r["ready"] == true)
        .await;
    let first = gantry
        .history_row(&namespace, "timeline", "first seen")
        .await;
    assert_eq!(first["model"], "s3://models/timeline/1");

    let version = gantry.detail("deployment", &namespace, "timeline")["generation"]
        .as_i64()
        .unwrap();
    let scaled = gantry.post(
        &format!("/api/v1/services/deployment/{namespace}/timeline/scale"),
        &json!({ "replicas": 2, "generation": version }),
        &gantry.cookie,
    );
    assert_eq!(scaled.status, 204, "{}", scaled.body);
    assert_eq!(
        gantry
            .history_row(&namespace, "timeline", "replicas 1 → 2")
            .await["actor"],
        "gantry:admin"
    );

    let admin = crate::common::cluster::kubeconfig_path("serving_history").unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&kubectl)
            .arg(format!("--kubeconfig={}", admin.display()))
            .arg(format!("--namespace={namespace}"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["scale", "deployment/timeline", "--replicas=3"]);
    let by_kubectl = gantry
        .history_row(&namespace, "timeline", "replicas 2 → 3")
        .await;
    assert!(
        by_kubectl["actor"].as_str().unwrap().starts_with("kubectl"),
        "{by_kubectl}"
    );
    run(&[
        "set",
        "image",
        "deployment/timeline",
        "serving=tensorflow/serving:2.16.0",
    ]);
    let rolled = gantry
        .history_row(
            &namespace,
            "timeline",
            "image tensorflow/serving:2.15.0 → tensorflow/serving:2.16.0",
        )
        .await;
    assert!(
        rolled["actor"].as_str().unwrap().starts_with("kubectl"),
        "{rolled}"
    );
    // The Deployment controller numbers the new revision (in the same row, or just after).
    gantry
        .history_row(&namespace, "timeline", "revision 1 → 2")
        .await;
}

/// Gantry's rollback of a Deployment leaves exactly what `kubectl rollout undo` leaves on an
/// identical Deployment: the same pod template and annotations; a stale version is refused;
/// an InferenceService goes back to the model it served before.
#[tokio::test]
async fn a_rollback_is_kubectls_rollout_undo_and_an_inference_service_returns_to_its_previous_model(
) {
    let Some(mine) = connect("serving_rollback_gantry").await else {
        return;
    };
    let Some(theirs) = connect("serving_rollback_kubectl").await else {
        return;
    };
    let Some(kubectl) = cluster_setting("GANTRY_TEST_KUBECTL") else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_rollback") else {
        return;
    };
    let admin = crate::common::cluster::kubeconfig_path("serving_rollback").unwrap();
    let kubectl_in = |namespace: &str, args: &[&str]| {
        let out = std::process::Command::new(&kubectl)
            .arg(format!("--kubeconfig={}", admin.display()))
            .arg(format!("--namespace={namespace}"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The same three revisions in both namespaces.
    for cluster in [&mine, &theirs] {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        api.create(&PostParams::default(), &tf_serving("twin", 1))
            .await
            .unwrap();
        for tag in ["2.16.0", "2.17.0"] {
            kubectl_in(
                &cluster.namespace,
                &[
                    "annotate",
                    "deployment/twin",
                    "--overwrite",
                    &format!("release={tag}"),
                ],
            );
            kubectl_in(
                &cluster.namespace,
                &[
                    "set",
                    "image",
                    "deployment/twin",
                    &format!("serving=tensorflow/serving:{tag}"),
                ],
            );
            kubectl_in(
                &cluster.namespace,
                &["rollout", "status", "deployment/twin", "--timeout=60s"],
            );
        }
    }
    gantry
        .row_when(&mine.namespace, "twin", |r| r["ready"] == true)
        .await;
    let detail = gantry.detail("deployment", &mine.namespace, "twin");
    assert_eq!(detail["revisions"][0]["number"], 3);
    let version = detail["generation"].as_i64().unwrap();
    let path = format!(
        "/api/v1/services/deployment/{}/twin/rollback",
        mine.namespace
    );
    let done = gantry.post(
        &path,
        &json!({ "to_revision": 1, "generation": version }),
        &gantry.cookie,
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json(), json!({ "to": "1", "changed": true }));
    kubectl_in(
        &theirs.namespace,
        &["rollout", "undo", "deployment/twin", "--to-revision=1"],
    );

    // Both become revision 4 with revision 1's template and annotations.
    let settled = |cluster: &TestCluster| {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        async move {
            wait_for(
                "the rollback's new revision",
                Duration::from_secs(60),
                || async {
                    let d = api.get("twin").await.ok()?;
                    let annotations = d.metadata.annotations.clone().unwrap_or_default();
                    (annotations
                        .get("deployment.kubernetes.io/revision")
                        .map(String::as_str)
                        == Some("4"))
                    .then_some(d)
                },
            )
            .await
        }
    };
    let (a, b) = (settled(&mine).await, settled(&theirs).await);
    assert_eq!(
        serde_json::to_value(&a.spec.as_ref().unwrap().template).unwrap(),
        serde_json::to_value(&b.spec.as_ref().unwrap().template).unwrap()
    );
    assert_eq!(a.metadata.annotations, b.metadata.annotations);
    assert_eq!(
        a.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("tensorflow/serving:2.15.0")
    );
    // The version the rollback was based on is gone: a second one from it is refused.
    let stale = gantry.post(
        &path,
        &json!({ "to_revision": 2, "generation": version }),
        &gantry.cookie,
    );
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_contains(&stale.body, "since you opened it");

    // An InferenceService rolled out to a new storageUri (as anyone would) goes back.
    let isvcs = Api::<DynamicObject>::namespaced_with(
        mine.client.clone(),
        &mine.namespace,
        &inference_services(),
    );
    let isvc: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": { "name": "flowers", "namespace": mine.namespace },
        "spec": { "predictor": { "model": { "modelFormat": { "name": "sklearn" },
            "storageUri": "gs://models/flowers/1",
            "resources": { "requests": { "cpu": "100m", "memory": "128Mi" } } } } }
    }))
    .unwrap();
    isvcs.create(&PostParams::default(), &isvc).await.unwrap();
    gantry
        .row_when(&mine.namespace, "flowers", |r| r["ready"] == true)
        .await;
    let history_has = |model: &'static str| {
        let gantry = &gantry;
        let namespace = mine.namespace.clone();
        async move {
            wait_for(
                &format!("{model} in the history"),
                Duration::from_secs(30),
                || async {
                    let detail = gantry.detail("inferenceservice", &namespace, "flowers");
                    (detail["history"][0]["model"] == model).then_some(detail)
                },
            )
            .await
        }
    };
    history_has("gs://models/flowers/1").await;
    kubectl_in(
        &mine.namespace,
        &[
            "patch",
            "inferenceservice/flowers",
            "--type=merge",
            "-p",
            r#"{"spec":{"predictor":{"model":{"storageUri":"gs://models/flowers/2"}}}}"#,
        ],
    );
    let detail = history_has("gs://models/flowers/2").await;
    let version = detail["generation"].as_i64().unwrap();
    let done = gantry.post(
        &format!(
            "/api/v1/services/inferenceservice/{}/flowers/rollback",
            mine.namespace
        ),
        &json!({ "generation": version }),
        &gantry.cookie,
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["to"], "gs://models/flowers/1");
    let stored = isvcs.get("flowers").await.unwrap();
    assert_eq!(
        stored.data["spec"]["predictor"]["model"]["storageUri"],
        "gs://models/flowers/1"
    );
    let back = history_has("gs://models/flowers/1").await;
    assert_eq!(back["history"][0]["actor"], "gantry:admin");
}

/// Rolling out another model: previewed by the API server's dry run (nothing stored),
/// then made as the user at the previewed generation; a viewer is refused, a stale spec
/// hears 409, the same model again changes nothing; an InferenceService's storageUri
/// goes out and back.
#[tokio::test]
async fn a_model_rolls_out_as_the_user_after_a_dry_run_preview() {
    let Some(TestCluster { client, namespace }) = connect("serving_rollout").await else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_rollout") else {
        return;
    };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    deployments
        .create(&PostParams::default(), &tf_serving("release", 1))
        .await
        .unwrap();
    gantry
        .row_when(&namespace, "release", |r| r["ready"] == true)
        .await;
    let version = gantry.detail("deployment", &namespace, "release")["generation"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/services/deployment/{namespace}/release/rollout");
    let admin = gantry.cookie.clone();
    let to = |model: &str, generation: i64, dry_run: bool| json!({ "to": model, "generation": generation, "dry_run": dry_run });

    let outsiders = gantry.outsiders(&namespace);
    for (user, cookie) in &outsiders {
        for dry_run in [true, false] {
            let refused = gantry.post(
                &path,
                &to("s3://models/release/2", version, dry_run),
                cookie,
            );
            assert_eq!(refused.status, 403, "{user}: {}", refused.body);
        }
    }
    let bad = gantry.post(&path, &to("s3://a b", version, true), &admin);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_contains(&bad.body, "to");

    let expected = json!({
        "field": "spec.template.spec.containers[0].args[0]",
        "from": "--model_base_path=s3://models/release/1",
        "to": "--model_base_path=s3://models/release/2",
        "changed": true
    });
    let preview = gantry.post(&path, &to("s3://models/release/2", version, true), &admin);
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!(preview.json(), expected);
    assert_eq!(
        deployments
            .get("release")
            .await
            .unwrap()
            .metadata
            .generation,
        Some(version),
        "a preview stores nothing"
    );

    let done = gantry.post(&path, &to("s3://models/release/2", version, false), &admin);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json(), expected);
    gantry
        .row_when(&namespace, "release", |r| {
            r["model"] == "s3://models/release/2"
        })
        .await;
    assert_eq!(
        gantry
            .history_row(
                &namespace,
                "release",
                "model s3://models/release/1 → s3://models/release/2"
            )
            .await["actor"],
        "gantry:admin"
    );
    let stale = gantry.post(&path, &to("s3://models/release/3", version, false), &admin);
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_contains(&stale.body, "gantry:admin");
    let now = gantry.detail("deployment", &namespace, "release")["generation"]
        .as_i64()
        .unwrap();
    let same = gantry.post(&path, &to("s3://models/release/2", now, false), &admin);
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(same.json()["changed"], false);

    // An InferenceService: its storageUri, out and back.
    let isvcs =
        Api::<DynamicObject>::namespaced_with(client.clone(), &namespace, &inference_services());
    let isvc: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": { "name": "petals", "namespace": namespace },
        "spec": { "predictor": { "model": { "modelFormat": { "name": "sklearn" },
            "storageUri": "gs://models/petals/1",
            "resources": { "requests": { "cpu": "100m", "memory": "128Mi" } } } } }
    }))
    .unwrap();
    isvcs.create(&PostParams::default(), &isvc).await.unwrap();
    gantry
        .row_when(&namespace, "petals", |r| r["ready"] == true)
        .await;
    let version = gantry.detail("inferenceservice", &namespace, "petals")["generation"]
        .as_i64()
        .unwrap();
    let done = gantry.post(
        &format!("/api/v1/services/inferenceservice/{namespace}/petals/rollout"),
        &to("gs://models/petals/2", version, false),
        &admin,
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        done.json(),
        json!({ "field": "spec.predictor.model.storageUri", "from": "gs://models/petals/1",
            "to": "gs://models/petals/2", "changed": true })
    );
    let served = isvcs.get("petals").await.unwrap();
    assert_eq!(
        served.data["spec"]["predictor"]["model"]["storageUri"],
        "gs://models/petals/2"
    );

    // Where each registered version served, from the history: v1 until the rollout, v2 since.
    let mlflow = |path: &str, body: Value| {
        let response = gantry.post(&format!("/api/2.0/mlflow/{path}"), &body, &admin);
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    };
    let model = format!("petals-{namespace}");
    mlflow(
        "registered-models/create",
        json!({ "name": model, "tags": [{ "key": "gantry.namespace", "value": namespace }] }),
    );
    for source in ["gs://models/petals/1", "gs://models/petals/2"] {
        mlflow(
            "model-versions/create",
            json!({ "name": model, "source": source }),
        );
    }
    let where_served = format!("/api/v1/services/served/{model}");
    let times = wait_for(
        "petals' rollout in the history",
        Duration::from_secs(30),
        || async {
            let response = gantry.get(&where_served, &admin);
            assert_eq!(response.status, 200, "{}", response.body);
            // Other runs' services served these URIs too: this namespace's are the test's.
            let times: Vec<Value> = response.json()["times"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["namespace"] == namespace)
                .cloned()
                .collect();
            (times.len() == 2).then_some(times)
        },
    )
    .await;
    assert_eq!(
        (&times[0]["version"], &times[0]["name"], &times[0]["until"]),
        (&json!(2), &json!("petals"), &Value::Null),
        "{times:?}"
    );
    assert_eq!(times[1]["version"], 1, "{times:?}");
    assert_eq!(
        times[1]["until"], times[0]["since"],
        "v1 served until v2 began"
    );
    let (_, otto) = &outsiders[1];
    let hidden = gantry.get(&where_served, otto);
    assert_eq!(
        hidden.status, 404,
        "another team's model is not theirs to see: {}",
        hidden.body
    );
}

/// A canary goes out as the user only where KServe splits requests (Knative mode; the split
/// itself is Knative's, which the local cluster does not run, so the test stops at the spec
/// KServe reads): start sets `canaryTrafficPercent` and the model, promote removes the
/// percent, abort sets 0. In Standard mode, and for a Deployment, it is refused saying why.
#[tokio::test]
async fn a_canary_starts_promotes_and_aborts_as_the_user_where_kserve_splits_traffic() {
    let Some(TestCluster { client, namespace }) = connect("serving_canary").await else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_canary") else {
        return;
    };
    let isvcs =
        Api::<DynamicObject>::namespaced_with(client.clone(), &namespace, &inference_services());
    for (name, mode) in [("knative", "Knative"), ("standard", "Standard")] {
        let isvc: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": { "name": name, "namespace": namespace,
                "annotations": { "serving.kserve.io/deploymentMode": mode } },
            "spec": { "predictor": { "model": { "modelFormat": { "name": "sklearn" },
                "storageUri": "gs://models/canary/1" } } }
        }))
        .unwrap();
        isvcs.create(&PostParams::default(), &isvc).await.unwrap();
    }
    let admin = gantry.cookie.clone();
    let path = |name: &str| format!("/api/v1/services/inferenceservice/{namespace}/{name}/canary");
    let generation = |name: &str| {
        gantry.detail("inferenceservice", &namespace, name)["generation"]
            .as_i64()
            .unwrap()
    };
    gantry.row_when(&namespace, "knative", |_| true).await;
    let start = |generation: i64, percent: i64| json!({ "action": "start", "to": "gs://models/canary/2", "percent": percent, "generation": generation });

    let seen = generation("knative");
    for (user, cookie) in gantry.outsiders(&namespace) {
        let refused = gantry.post(&path("knative"), &start(seen, 10), &cookie);
        assert_eq!(refused.status, 403, "{user}: {}", refused.body);
    }
    let bad = gantry.post(&path("knative"), &start(seen, 100), &admin);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_contains(&bad.body, "percent");
    let promote_nothing = gantry.post(
        &path("knative"),
        &json!({ "action": "promote", "generation": seen }),
        &admin,
    );
    assert_eq!(promote_nothing.status, 409, "{}", promote_nothing.body);
    assert_contains(&promote_nothing.body, "no canary to promote");

    let started = gantry.post(&path("knative"), &start(seen, 10), &admin);
    assert_eq!(started.status, 200, "{}", started.body);
    assert_contains(
        &started.body,
        "10% of requests to gs://models/canary/2, the rest to gs://models/canary/1",
    );
    let predictor = |object: DynamicObject| object.data["spec"]["predictor"].clone();
    let now = predictor(isvcs.get("knative").await.unwrap());
    assert_eq!(now["canaryTrafficPercent"], 10);
    assert_eq!(now["model"]["storageUri"], "gs://models/canary/2");
    let stale = gantry.post(&path("knative"), &start(seen, 20), &admin);
    assert_eq!(stale.status, 409, "{}", stale.body);
    // Who changed it is the newest managedFields entry, and those count in seconds: the
    // test's own create, in the same second, may tie with Gantry's patch.
    assert_contains(&stale.body, "since you opened it");

    let promoted = gantry.post(
        &path("knative"),
        &json!({ "action": "promote", "generation": generation("knative") }),
        &admin,
    );
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(
        predictor(isvcs.get("knative").await.unwrap())["canaryTrafficPercent"],
        Value::Null
    );
    let again = gantry.post(&path("knative"), &start(generation("knative"), 30), &admin);
    assert_eq!(again.status, 200, "{}", again.body);
    let aborted = gantry.post(
        &path("knative"),
        &json!({ "action": "abort", "generation": generation("knative") }),
        &admin,
    );
    assert_eq!(aborted.status, 200, "{}", aborted.body);
    assert_eq!(
        predictor(isvcs.get("knative").await.unwrap())["canaryTrafficPercent"],
        0
    );
    let detail = gantry.detail("inferenceservice", &namespace, "knative");
    assert_eq!(detail["canary"]["mode"], "Knative", "{detail}");
    assert_eq!(detail["canary"]["percent"], 0);

    gantry.row_when(&namespace, "standard", |_| true).await;
    let standard = gantry.post(
        &path("standard"),
        &start(generation("standard"), 10),
        &admin,
    );
    assert_eq!(standard.status, 409, "{}", standard.body);
    assert_contains(
        &standard.body,
        "Standard mode, where KServe does not split requests",
    );
    assert_eq!(
        predictor(isvcs.get("standard").await.unwrap())["canaryTrafficPercent"],
        Value::Null,
        "nothing written"
    );
    let deployment = gantry.post(
        &format!("/api/v1/services/deployment/{namespace}/standard-predictor/canary"),
        &start(1, 10),
        &admin,
    );
    assert_eq!(deployment.status, 400, "{}", deployment.body);
    assert_contains(&deployment.body, "Without a service mesh");
}

/// The list comes in pages of 100 by namespace and name, each with the total: every service
/// is on exactly one page, and a page past the end is empty.
#[tokio::test]
async fn the_list_comes_in_pages_of_100_with_the_total() {
    let Some(TestCluster { client, namespace }) = connect("serving_paged").await else {
        return;
    };
    let Some(gantry) = Gantry::start("serving_paged") else {
        return;
    };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    for i in 0..101 {
        deployments
            .create(
                &PostParams::default(),
                &tf_serving(&format!("paged-{i:03}"), 0),
            )
            .await
            .unwrap();
    }
    let list = |page: usize| {
        let response = gantry.get(&format!("/api/v1/services?page={page}"), &gantry.cookie);
        assert_eq!(response.status, 200, "{}", response.body);
        response.json()
    };
    wait_for(
        "the 101 Deployments in the list",
        Duration::from_secs(60),
        || async { (list(0)["total"].as_u64().unwrap() >= 101).then_some(()) },
    )
    .await;
    let first = list(0);
    let total = first["total"].as_u64().unwrap() as usize;
    let pages = total.div_ceil(100);
    let mut ours = Vec::new();
    for page in 0..pages {
        let list = list(page);
        let rows = list["rows"].as_array().unwrap();
        let expected = if page + 1 < pages {
            100
        } else {
            total - 100 * page
        };
        assert_eq!(rows.len(), expected, "page {page} of {total}");
        assert_eq!(list["page"], page);
        ours.extend(
            rows.iter()
                .filter(|r| r["namespace"] == namespace)
                .map(|r| r["name"].as_str().unwrap().to_string()),
        );
    }
    let expected: Vec<String> = (0..101).map(|i| format!("paged-{i:03}")).collect();
    assert_eq!(ours, expected, "each once, in order");
    assert_eq!(list(pages)["rows"], json!([]));
    let bad = gantry.get("/api/v1/services?page=-1", &gantry.cookie);
    assert_eq!(bad.status, 400, "{}", bad.body);
    deployments
        .delete_collection(&Default::default(), &Default::default())
        .await
        .unwrap();
}

/// The last value of series `series` of chart `id`, once there is one.
fn last_point(metrics: &Value, id: &str, series: &str) -> Option<f64> {
    metrics["charts"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)?["series"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == series)?["points"]
        .as_array()?
        .last()?[1]
        .as_f64()
}

/// A model server's traffic from the local cluster's real Prometheus scraping the
/// simulator: two pods at 20 requests a second each are charted as 40 a second from two
/// pods, the latency quantiles in order, errors at the simulator's 1 %; the pods of a
/// neighbour named `scorer-canary` are not counted; a viewer sees the charts once the
/// cluster lets her read the namespace, an ops admin of another namespace is refused, and a
/// made-up service is a 404.
#[tokio::test]
async fn a_services_traffic_is_charted_from_its_pods_metrics() {
    let Some(url) = crate::metrics::prometheus_url() else {
        return;
    };
    let Some(TestCluster { client, namespace }) = connect("serving_metrics").await else {
        return;
    };
    let Some((server, cookie)) =
        TestServer::on_cluster_with("serving_metrics", &[("GANTRY_PROMETHEUS_URL", &url)])
    else {
        return;
    };
    let gantry = Gantry { server, cookie };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    for (name, replicas) in [("scorer", 2), ("scorer-canary", 1)] {
        let mut deployment = tf_serving(name, replicas);
        let template = deployment.spec.as_mut().unwrap().template.metadata.as_mut();
        template.unwrap().annotations =
            Some([("gantry.dev/serving-rate".to_string(), "20".to_string())].into());
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .unwrap();
    }
    let path = format!("/api/v1/services/deployment/{namespace}/scorer/metrics?range=15m");
    // A rate spans a minute: it reads right once the pods have been scraped for that long.
    let metrics = wait_for(
        "Prometheus to have a minute of scorer's two pods",
        Duration::from_secs(150),
        || async {
            let response = gantry.get(&path, &gantry.cookie);
            assert_eq!(response.status, 200, "{}", response.body);
            let metrics = response.json();
            let pods = last_point(&metrics, "replicas", "Pods")?;
            let rate = last_point(&metrics, "requests", "Requests")?;
            (pods == 2.0 && (rate - 40.0).abs() < 2.0).then_some(metrics)
        },
    )
    .await;
    let quantiles = ["p50", "p95", "p99"].map(|q| last_point(&metrics, "latency", q).unwrap());
    assert!(
        quantiles[0] > 0.0 && quantiles[0] < quantiles[1] && quantiles[1] < quantiles[2],
        "{quantiles:?}"
    );
    let errors = last_point(&metrics, "errors", "5xx").unwrap();
    assert!((0.5..1.5).contains(&errors), "{errors} % errors");
    assert_contains(metrics["dialect"].as_str().unwrap(), "model_requests_total");

    let svg = gantry.get(
        &format!("/api/v1/services/deployment/{namespace}/scorer/metrics/latency.svg?range=15m"),
        &gantry.cookie,
    );
    assert_eq!(svg.status, 200, "{}", svg.body);
    assert_contains(&svg.body, "<svg");
    // A viewer sees the charts once the cluster lets her read the namespace, not before.
    let [(_, vera), (_, otto)] = gantry.outsiders(&namespace);
    let refused = gantry.get(&path, &vera);
    assert_eq!(refused.status, 403, "{}", refused.body);
    let binding: k8s_openapi::api::rbac::v1::RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "vera-reads" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gantry:viewer" },
        "subjects": [{ "kind": "User", "name": "gantry:vera", "apiGroup": "rbac.authorization.k8s.io" }]
    }))
    .unwrap();
    Api::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    // Gantry keeps a review's answer for 30 s.
    wait_for(
        "vera's binding to be seen",
        Duration::from_secs(45),
        || async { (gantry.get(&path, &vera).status == 200).then_some(()) },
    )
    .await;
    let refused = gantry.get(&path, &otto);
    assert_eq!(refused.status, 403, "{}", refused.body);
    let made_up = gantry.get(
        &format!("/api/v1/services/deployment/{namespace}/nothing/metrics"),
        &gantry.cookie,
    );
    assert_eq!(made_up.status, 404, "{}", made_up.body);
    deployments
        .delete_collection(&Default::default(), &Default::default())
        .await
        .unwrap();
}
