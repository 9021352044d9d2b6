//! Training jobs through Gantry's JSON API on the real local cluster: a launched job is
//! bound by the scheduler to a node of the chosen GPU model and succeeds; too many GPUs
//! wait with the scheduler's reason; a failing pod stage fails the job with its reason;
//! bad input creates nothing; cancel deletes, and the history keeps what the TTL removed.

use std::time::Duration;

use crate::common::cluster::{connect, wait_for, TestCluster};
use crate::common::fixtures::IMAGE;
use crate::common::server::{assert_contains, TestServer};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use kube::Api;
use serde_json::{json, Value};

/// Gantry on the local cluster, signed in as its admin (also used by `tracking_service`).
pub(crate) struct Gantry {
    pub(crate) server: TestServer,
    pub(crate) cookie: String,
    pub(crate) origin: String,
}

impl Gantry {
    fn start(test: &str) -> Option<Gantry> {
        Self::start_with(test, &[])
    }

    pub(crate) fn start_with(test: &str, env: &[(&str, &str)]) -> Option<Gantry> {
        let (server, cookie) = TestServer::on_cluster_with(test, env)?;
        let origin = server.base.clone();
        Some(Gantry {
            server,
            cookie,
            origin,
        })
    }

    fn launch(&self, form: &Value) -> crate::common::server::Response {
        self.server.request_json(
            "POST",
            "/api/v1/jobs",
            form,
            &[("Cookie", &self.cookie), ("Origin", &self.origin)],
        )
    }

    fn list(&self, namespace: &str) -> Vec<Value> {
        let response = self.server.request(
            "GET",
            &format!("/api/v1/jobs?namespace={namespace}"),
            "",
            &[("Cookie", &self.cookie)],
        );
        assert_eq!(response.status, 200, "{}", response.body);
        response.json().as_array().unwrap().clone()
    }

    /// The job's row once `check` accepts it.
    async fn row_when(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_for(what, Duration::from_secs(60), || async {
            self.list(namespace)
                .into_iter()
                .find(|r| r["name"] == name && check(r))
        })
        .await
    }
}

/// A valid launch form for a job `name` in the test's namespace.
pub(crate) fn form(test: &TestCluster, name: &str) -> Value {
    json!({
        "name": name,
        "namespace": test.namespace,
        "image": IMAGE,
        "command": "python\n-m\ntrain",
        "gpus": "2",
        "gpu_model": "NVIDIA-H100-80GB-HBM3",
        "gpu_resource": "nvidia.com/gpu",
        "cpu_request": "2",
        "memory_request": "8Gi",
        "shm_size": "1Gi",
        "hyperparameters": [{ "key": "lr", "value": "3e-4" }],
        "hyperparameters_as": "args"
    })
}

#[tokio::test]
async fn a_launched_job_runs_on_the_chosen_model_and_succeeds() {
    let Some(test) = connect("jobs-run").await else {
        return;
    };
    let gantry = Gantry::start("jobs-run").unwrap();
    let launched = gantry.launch(&form(&test, "h100-run"));
    assert_eq!(launched.status, 201, "{}", launched.body);

    let done = gantry
        .row_when(&test.namespace, "h100-run", "the job to succeed", |r| {
            r["phase"] == "Succeeded"
        })
        .await;
    assert_eq!(done["launched_by"], "admin");
    assert_eq!(done["gpus_per_pod"], 2);
    // The scheduler bound its pod to an H100 node.
    let pods: Api<Pod> = Api::namespaced(test.client.clone(), &test.namespace);
    let pod = pods
        .list(&ListParams::default().labels("job-name=h100-run"))
        .await
        .unwrap()
        .items
        .remove(0);
    let node_name = pod.spec.as_ref().unwrap().node_name.clone().expect("bound");
    let node = Api::<Node>::all(test.client.clone())
        .get(&node_name)
        .await
        .unwrap();
    assert_eq!(
        node.metadata.labels.unwrap()["nvidia.com/gpu.product"],
        "NVIDIA-H100-80GB-HBM3"
    );
    let container = &pod.spec.unwrap().containers[0];
    assert_eq!(container.args.as_ref().unwrap(), &["--lr=3e-4"]);
    // The audit log has the launch.
    let audit = gantry
        .server
        .request("GET", "/admin/audit.csv", "", &[("Cookie", &gantry.cookie)]);
    assert_contains(
        &audit.body,
        &format!("job.launch,job/{}/h100-run", test.namespace),
    );
}

/// Gantry stopped while its job finished and was TTL-deleted: started again, it finds the row
/// of a Job no longer in the cluster and records how it ended from the Job's events.
#[tokio::test]
async fn a_job_that_ends_while_gantry_is_stopped_is_listed_with_its_end() {
    let Some(test) = connect("jobs-away").await else {
        return;
    };
    let mut first = Gantry::start("jobs-away").unwrap();
    let mut away = form(&test, "while-away");
    away["ttl_seconds_after_finished"] = json!("0");
    away["annotations"] = json!([
        { "key": "pod-complete.stage.kwok.x-k8s.io/delay", "value": "6s" }
    ]);
    assert_eq!(first.launch(&away).status, 201);
    first
        .row_when(&test.namespace, "while-away", "the job to run", |r| {
            r["phase"] == "Running"
        })
        .await;
    first.server.stop();
    let jobs: Api<Job> = Api::namespaced(test.client.clone(), &test.namespace);
    wait_for(
        "the TTL to delete the job",
        Duration::from_secs(60),
        || async {
            jobs.get_opt("while-away")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;

    let data = first.server.data.path().to_str().unwrap().to_string();
    let second = Gantry::start_with("jobs-away", &[("GANTRY_DATA_DIR", &data)]).unwrap();
    let row = second
        .row_when(
            &test.namespace,
            "while-away",
            "its end in the history",
            |r| r["in_cluster"] == false,
        )
        .await;
    assert_eq!(row["phase"], "Succeeded", "{row}");
    assert_eq!(row["launched_by"], "admin", "{row}");
}

#[tokio::test]
async fn too_many_gpus_for_the_model_wait_with_the_schedulers_reason() {
    let Some(test) = connect("jobs-pending").await else {
        return;
    };
    let gantry = Gantry::start("jobs-pending").unwrap();
    // The A100-80GB nodes are in MIG mode: no whole GPUs at all.
    let mut pending = form(&test, "no-whole-a100");
    pending["gpu_model"] = json!("NVIDIA-A100-SXM4-80GB");
    pending["gpus"] = json!("1");
    let launched = gantry.launch(&pending);
    assert_eq!(launched.status, 201, "{}", launched.body);
    let row = gantry
        .row_when(
            &test.namespace,
            "no-whole-a100",
            "the scheduler's reason",
            |r| {
                r["reason"]
                    .as_str()
                    .is_some_and(|s| s.contains("Insufficient nvidia.com/gpu"))
            },
        )
        .await;
    assert_eq!(row["phase"], "Pending");
}

#[tokio::test]
async fn a_failing_pod_fails_the_job_with_its_reason() {
    let Some(test) = connect("jobs-fail").await else {
        return;
    };
    let gantry = Gantry::start("jobs-fail").unwrap();
    let mut failing = form(&test, "oom");
    failing["annotations"] = json!([
        { "key": "pod-fail.stage.kwok.x-k8s.io/delay", "value": "1s" },
        { "key": "pod-fail.stage.kwok.x-k8s.io/exit-code", "value": "137" },
        { "key": "pod-fail.stage.kwok.x-k8s.io/reason", "value": "OOMKilled" }
    ]);
    assert_eq!(gantry.launch(&failing).status, 201);
    let row = gantry
        .row_when(&test.namespace, "oom", "the job to fail", |r| {
            r["phase"] == "Failed"
        })
        .await;
    assert_contains(row["reason"].as_str().unwrap(), "BackoffLimitExceeded");
}

#[tokio::test]
async fn bad_input_is_refused_by_field_and_creates_nothing() {
    let Some(test) = connect("jobs-bad").await else {
        return;
    };
    let gantry = Gantry::start("jobs-bad").unwrap();
    let jobs: Api<Job> = Api::namespaced(test.client.clone(), &test.namespace);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("upper-case name", json!({ "name": "Bad" }), "name"),
        ("fractional GPUs", json!({ "gpus": "1.5" }), "gpus"),
        ("more GPUs than any node", json!({ "gpus": "64" }), "gpus"),
        (
            "javascript: image",
            json!({ "image": "javascript:alert(1)" }),
            "image",
        ),
        (
            "unknown model",
            json!({ "gpu_model": "NVIDIA-B200" }),
            "gpu_model",
        ),
        (
            "missing claim",
            json!({ "mounts": [{ "claim": "nowhere", "path": "/data", "read_only": false }] }),
            "mounts[0].claim",
        ),
        (
            "forbidden namespace",
            json!({ "namespace": "kube-system" }),
            "namespace",
        ),
    ];
    for (i, (what, change, field)) in cases.into_iter().enumerate() {
        let mut bad = form(&test, &format!("bad-{i}"));
        for (key, value) in change.as_object().unwrap() {
            bad[key] = value.clone();
        }
        let answer = gantry.launch(&bad);
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        let body = answer.json();
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: {body}"))
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{what}: {body}");
    }
    assert!(jobs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
    // A name taken is the name's problem, and the first job is untouched.
    assert_eq!(gantry.launch(&form(&test, "taken")).status, 201);
    let again = gantry.launch(&form(&test, "taken"));
    assert_eq!(again.status, 400, "{}", again.body);
    assert_contains(&again.body, "already exists");
}

#[tokio::test]
async fn cancel_deletes_the_job_and_the_history_keeps_jobs_the_ttl_removed_with_their_last_log_lines(
) {
    let Some(test) = connect("jobs-cancel").await else {
        return;
    };
    let gantry = Gantry::start("jobs-cancel").unwrap();
    let mut long = form(&test, "long");
    long["annotations"] =
        json!([{ "key": "pod-complete.stage.kwok.x-k8s.io/delay", "value": "10m" }]);
    assert_eq!(gantry.launch(&long).status, 201);
    gantry
        .row_when(&test.namespace, "long", "the job to run", |r| {
            r["phase"] == "Running"
        })
        .await;
    let cancelled = gantry.server.request(
        "DELETE",
        &format!("/api/v1/jobs/{}/long", test.namespace),
        "",
        &[("Cookie", &gantry.cookie), ("Origin", &gantry.origin)],
    );
    assert_eq!(cancelled.status, 204, "{}", cancelled.body);
    let jobs: Api<Job> = Api::namespaced(test.client.clone(), &test.namespace);
    wait_for("the Job to be gone", Duration::from_secs(30), || async {
        jobs.get_opt("long").await.unwrap().is_none().then_some(())
    })
    .await;
    let cancelled = gantry
        .row_when(
            &test.namespace,
            "long",
            "the cancelled job's history",
            |r| r["in_cluster"] == false,
        )
        .await;
    assert_eq!(cancelled["phase"], "Failed");
    assert_eq!(cancelled["reason"], "deleted before it finished");

    let mut short = form(&test, "short-lived");
    short["ttl_seconds_after_finished"] = json!("3");
    assert_eq!(gantry.launch(&short).status, 201);
    wait_for(
        "the TTL to delete the Job",
        Duration::from_secs(60),
        || async {
            jobs.get_opt("short-lived")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
    let kept = gantry
        .row_when(&test.namespace, "short-lived", "the history row", |r| {
            r["in_cluster"] == false
        })
        .await;
    assert_eq!(kept["phase"], "Succeeded", "{kept}");
    assert_eq!(kept["launched_by"], "admin");
    // Its page is the history's: the form it was launched with, and its pod's last lines.
    let detail = gantry
        .server
        .request(
            "GET",
            &format!("/api/v1/jobs/{}/short-lived", test.namespace),
            "",
            &[("Cookie", &gantry.cookie)],
        )
        .json();
    assert_eq!(detail["image"], IMAGE);
    assert_contains(
        detail["captured"][0]["lines"]
            .as_str()
            .unwrap_or_else(|| panic!("{detail}")),
        "Starting training",
    );

    // Captured logs are logs: a user the cluster lets list Jobs here but not read pods'
    // logs sees the history without them.
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "jobs-only" },
        "rules": [{ "apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list"] }]
    }))
    .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "carol-jobs-only" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "jobs-only" },
        "subjects": [{ "kind": "User", "name": "gantry:carol", "apiGroup": "rbac.authorization.k8s.io" }]
    }))
    .unwrap();
    Api::<Role>::namespaced(test.client.clone(), &test.namespace)
        .create(&Default::default(), &role)
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(test.client.clone(), &test.namespace)
        .create(&Default::default(), &binding)
        .await
        .unwrap();
    let created = gantry.server.request(
        "POST",
        "/api/accounts/create",
        "username=carol&display_name=Carol&password=carol+long+password&role=viewer&namespaces=*",
        &[("Cookie", &gantry.cookie), ("Origin", &gantry.origin)],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let carol = gantry.server.login_as("carol", "carol long password");
    let seen = gantry.server.request(
        "GET",
        &format!("/api/v1/jobs/{}/short-lived", test.namespace),
        "",
        &[("Cookie", &carol)],
    );
    assert_eq!(seen.status, 200, "{}", seen.body);
    let seen = seen.json();
    assert_eq!(seen["image"], IMAGE, "{seen}");
    assert_eq!(seen["captured"], json!([]), "{seen}");
}

#[tokio::test]
async fn kubeflow_jobs_are_listed_beside_batch_jobs() {
    let Some(gantry) = Gantry::start("jobs-kubeflow") else {
        return;
    };
    // The seed installs stand-in CRDs and one job of each kind (tools/cluster/fleet/kubeflow.yaml).
    let rows = wait_for("the Kubeflow jobs", Duration::from_secs(30), || async {
        let rows = gantry.list("team-a");
        rows.iter().any(|r| r["kind"] == "TrainJob").then_some(rows)
    })
    .await;
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let pytorch = find("bert-ddp");
    assert_eq!(
        (
            &pytorch["kind"],
            &pytorch["phase"],
            &pytorch["gpus_per_pod"],
            &pytorch["parallelism"]
        ),
        (
            &json!("PyTorchJob"),
            &json!("Running"),
            &json!(2),
            &json!(4)
        )
    );
    let train = find("llama-sft");
    assert_eq!(
        (&train["kind"], &train["phase"]),
        (&json!("TrainJob"), &json!("Succeeded"))
    );
    // The batch Jobs are there too.
    assert_eq!(find("llama-finetune")["kind"], "Job");
}

/// The jobs area as a data scientist whom Gantry lets into every namespace but the cluster
/// binds to team-a only (`tools/cluster/fleet/users.yaml`): in team-b every read and write is
/// refused by the cluster's RBAC, in team-a the same requests work.
#[tokio::test]
async fn a_team_a_data_scientist_works_in_team_a_and_is_refused_in_team_b() {
    let Some(test) = connect("jobs-alice").await else {
        return;
    };
    let gantry = Gantry::start("jobs-alice").unwrap();
    let server = &gantry.server;
    let origin = gantry.origin.clone();
    let created = server.request(
        "POST",
        "/api/accounts/create",
        "username=alice&display_name=Alice&password=alice+long+password&role=data-scientist&namespaces=*",
        &[("Cookie", &gantry.cookie), ("Origin", &origin)],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let alice = server.login_as("alice", "alice long password");
    let name = format!("b-{}", &test.namespace[test.namespace.len() - 8..]);
    let mut theirs = form(&test, &name);
    theirs["namespace"] = json!("team-b");
    theirs["annotations"] =
        json!([{ "key": "pod-complete.stage.kwok.x-k8s.io/delay", "value": "10m" }]);
    assert_eq!(
        gantry.launch(&theirs).status,
        201,
        "the admin launches in team-b"
    );

    let as_alice = |method: &str, path: &str| {
        server.request(method, path, "", &[("Cookie", &alice), ("Origin", &origin)])
    };
    let mut refused = Vec::new();
    for (what, method, path) in [
        ("detail", "GET", format!("/api/v1/jobs/team-b/{name}")),
        (
            "live detail",
            "GET",
            format!("/api/v1/jobs/team-b/{name}/stream"),
        ),
        (
            "logs",
            "GET",
            format!("/api/v1/jobs/team-b/{name}/logs.txt"),
        ),
        (
            "live logs",
            "GET",
            format!("/api/v1/jobs/team-b/{name}/logs"),
        ),
        ("cancel", "DELETE", format!("/api/v1/jobs/team-b/{name}")),
    ] {
        let response = as_alice(method, &path);
        refused.push((what, response.status));
        assert_eq!(response.status, 403, "{what}: {}", response.body);
    }
    let listed = as_alice("GET", "/api/v1/jobs?namespace=team-b");
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json(),
        json!([]),
        "team-b's jobs are not listed for alice"
    );
    let mut launch = theirs.clone();
    launch["name"] = json!(format!("{name}-a"));
    let in_b = server.request_json(
        "POST",
        "/api/v1/jobs",
        &launch,
        &[("Cookie", &alice), ("Origin", &origin)],
    );
    assert_eq!(in_b.status, 400, "{}", in_b.body);
    assert_contains(&in_b.body, "namespace");
    let form_b = server.request(
        "POST",
        "/api/jobs/form",
        &format!("namespace=team-b&name={name}"),
        &[("Cookie", &alice), ("Origin", &origin)],
    );
    assert_eq!(form_b.status, 403, "{}", form_b.body);
    // The job is still there.
    let jobs_b: Api<Job> = Api::namespaced(test.client.clone(), "team-b");
    assert!(jobs_b.get_opt(&name).await.unwrap().is_some());

    // In team-a the same requests work.
    launch["namespace"] = json!("team-a");
    let in_a = server.request_json(
        "POST",
        "/api/v1/jobs",
        &launch,
        &[("Cookie", &alice), ("Origin", &origin)],
    );
    assert_eq!(in_a.status, 201, "{}", in_a.body);
    let a_name = launch["name"].as_str().unwrap().to_string();
    for path in [
        format!("/api/v1/jobs/team-a/{a_name}"),
        format!("/api/v1/jobs/team-a/{a_name}/logs.txt"),
    ] {
        let response = as_alice("GET", &path);
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    }
    let cancelled = as_alice("DELETE", &format!("/api/v1/jobs/team-a/{a_name}"));
    assert!(cancelled.status < 300, "{}", cancelled.body);
    jobs_b.delete(&name, &Default::default()).await.unwrap();
    println!("alice in team-b: {refused:?}");
}

/// "Launched by" is Gantry's own record: a Job made with kubectl that carries Gantry's label
/// and launcher annotation is still listed as launched elsewhere.
#[tokio::test]
async fn a_launcher_written_on_a_job_by_hand_is_not_believed() {
    let Some(test) = connect("jobs-forged").await else {
        return;
    };
    let gantry = Gantry::start("jobs-forged").unwrap();
    let forged: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "forged",
            "labels": { "app.kubernetes.io/managed-by": "gantry" },
            "annotations": { "gantry.dev/launched-by": "mallory" }
        },
        "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "main", "image": IMAGE }]
        } } }
    }))
    .unwrap();
    let jobs: Api<Job> = Api::namespaced(test.client.clone(), &test.namespace);
    jobs.create(&Default::default(), &forged).await.unwrap();
    let row = gantry
        .row_when(&test.namespace, "forged", "the forged job", |_| true)
        .await;
    assert_eq!(row["launched_by"], Value::Null, "{row}");
}

/// A job launched with MLflow tracking on by a team-a data scientist: its container gets
/// Gantry's address, its run and the token by reference to a Secret the Job owns; the run
/// records the Job; the token logs to that run but reaches neither Gantry's other routes nor
/// team-b, and dies with the Job.
#[tokio::test]
async fn a_tracked_job_gets_its_run_and_a_token_for_mlflow_in_its_namespace_only() {
    let Some(test) = connect("jobs-tracking").await else {
        return;
    };
    let gantry = Gantry::start_with(
        "jobs-tracking",
        &[("GANTRY_TRACKING_URI", "http://gantry.test:3000")],
    )
    .unwrap();
    let server = &gantry.server;
    let origin = gantry.origin.clone();
    let created = server.request(
        "POST",
        "/api/accounts/create",
        "username=alice&display_name=Alice&password=alice+long+password&role=data-scientist&namespaces=team-a",
        &[("Cookie", &gantry.cookie), ("Origin", &origin)],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let alice = server.login_as("alice", "alice long password");
    let as_alice = [("Cookie", alice.as_str()), ("Origin", origin.as_str())];
    let name = format!("trk-{}", &test.namespace[test.namespace.len() - 8..]);
    let mut tracked = form(&test, &name);
    tracked["namespace"] = json!("team-a");
    tracked["annotations"] =
        json!([{ "key": "pod-complete.stage.kwok.x-k8s.io/delay", "value": "10m" }]);
    tracked["tracking"] = json!(true);
    tracked["experiment"] = json!(format!("{name}-experiment"));
    let launched = server.request_json("POST", "/api/v1/jobs", &tracked, &as_alice);
    assert_eq!(launched.status, 201, "{}", launched.body);

    let job = Api::<Job>::namespaced(test.client.clone(), "team-a")
        .get(&name)
        .await
        .unwrap();
    let uid = job.metadata.uid.clone().unwrap();
    let env = job.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    let variable = |n: &str| {
        env.iter()
            .find(|e| e.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
            .clone()
    };
    assert_eq!(
        variable("MLFLOW_TRACKING_URI").value.as_deref(),
        Some("http://gantry.test:3000")
    );
    let run_id = variable("MLFLOW_RUN_ID").value.unwrap();
    let token_ref = variable("MLFLOW_TRACKING_TOKEN");
    assert_eq!(token_ref.value, None, "the token is never in the Job");
    let secret_name = token_ref.value_from.unwrap().secret_key_ref.unwrap().name;
    let secret =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(test.client.clone(), "team-a")
            .get(&secret_name)
            .await
            .unwrap();
    assert_eq!(
        secret.metadata.owner_references.unwrap()[0].uid,
        uid,
        "the Secret goes with the Job"
    );
    let token = String::from_utf8(secret.data.unwrap()["token"].0.clone()).unwrap();
    let bearer = format!("Bearer {token}");
    let as_pod = [("Authorization", bearer.as_str())];
    let get_run = || {
        server.request(
            "GET",
            &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
            "",
            &as_pod,
        )
    };

    // With the pods' token: the run, as MLflow's client resumes it, records the Job, and
    // takes the job's metrics.
    let run = get_run();
    assert_eq!(run.status, 200, "{}", run.body);
    let tags = run.json()["run"]["data"]["tags"].clone();
    for (key, value) in [
        ("gantry.job", format!("team-a/{name}")),
        ("gantry.job.uid", uid),
    ] {
        assert!(
            tags.as_array()
                .unwrap()
                .contains(&json!({ "key": key, "value": value })),
            "{key}: {tags}"
        );
    }
    let logged = server.request_json(
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        &json!({ "run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 1 }),
        &as_pod,
    );
    assert_eq!(logged.status, 200, "{}", logged.body);
    // ...and nothing else: not Gantry's own API, not another namespace.
    let jobs_api = server.request("GET", "/api/v1/jobs", "", &as_pod);
    assert_eq!(jobs_api.status, 403, "{}", jobs_api.body);
    let elsewhere = server.request_json(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &json!({ "name": format!("{name}-b"),
                 "tags": [{ "key": "gantry.namespace", "value": "team-b" }] }),
        &as_pod,
    );
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);

    // The job's page names its run, whose chart has the point.
    let detail = server.request("GET", &format!("/api/v1/jobs/team-a/{name}"), "", &as_alice);
    assert_eq!(detail.json()["run_id"], run_id.as_str(), "{}", detail.body);
    let page = server
        .request("GET", &format!("/api/v1/runs/{run_id}"), "", &as_alice)
        .json();
    assert_eq!(page["charts"][0]["series"][0]["points"], json!([[1, 0.5]]));
    assert_eq!(page["job"], name.as_str(), "the run names its Job");
    // The jobs list shows the run's key metric (`loss`, no `gantry.key_metric` tag) beside the
    // Job.
    let key_metric = || {
        let listed = server
            .request("GET", "/api/v1/jobs?namespace=team-a", "", &as_alice)
            .json();
        let row = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name.as_str());
        row.unwrap_or_else(|| panic!("{name} not listed: {listed}"))["key_metric"].clone()
    };
    assert_eq!(key_metric(), json!(["loss", "0.5"]));
    // The job's code may name another key metric with a run tag.
    for (path, body) in [
        (
            "runs/set-tag",
            json!({ "run_id": run_id, "key": "gantry.key_metric", "value": "accuracy" }),
        ),
        (
            "runs/log-metric",
            json!({ "run_id": run_id, "key": "accuracy", "value": 0.9, "timestamp": 1, "step": 1 }),
        ),
    ] {
        let sent = server.request_json("POST", &format!("/api/2.0/mlflow/{path}"), &body, &as_pod);
        assert_eq!(sent.status, 200, "{path}: {}", sent.body);
    }
    assert_eq!(key_metric(), json!(["accuracy", "0.9"]));
    let audit = server.request("GET", "/admin/audit.csv", "", &[("Cookie", &gantry.cookie)]);
    assert_contains(&audit.body, &format!("job.tracking,job/team-a/{name}"));

    // A version registered from the run by the job's code: its page's lineage is the run and
    // this Job, with what the Job ran and on which GPUs.
    let model = format!("{name}-model");
    for (path, body) in [
        (
            "registered-models/create",
            json!({ "name": model,
            "tags": [{ "key": "gantry.namespace", "value": "team-a" }] }),
        ),
        (
            "model-versions/create",
            json!({ "name": model, "run_id": run_id,
            "source": format!("runs:/{run_id}/model") }),
        ),
    ] {
        let registered =
            server.request_json("POST", &format!("/api/2.0/mlflow/{path}"), &body, &as_pod);
        assert_eq!(registered.status, 200, "{path}: {}", registered.body);
    }
    let version = server.request(
        "POST",
        "/api/models/version",
        &format!("name={model}&version=1"),
        &as_alice,
    );
    assert_eq!(version.status, 200, "{}", version.body);
    let version = version.json();
    assert_eq!(version["run"]["run"]["id"], run_id.as_str(), "{version}");
    let lineage = &version["job"]["Ok"];
    assert_eq!(lineage["name"], name.as_str(), "{version}");
    assert_eq!(lineage["image"], tracked["image"], "{version}");
    assert_eq!(lineage["command"], "python -m train --lr=3e-4", "{version}");
    assert_eq!(lineage["gpus_per_pod"], 2, "{version}");
    assert_eq!(lineage["gpu_model"], "NVIDIA-H100-80GB-HBM3", "{version}");

    // Cancelled, the Job takes its token with it, and its run, which its code never ended,
    // ends KILLED.
    let cancelled = server.request(
        "DELETE",
        &format!("/api/v1/jobs/team-a/{name}"),
        "",
        &as_alice,
    );
    assert!(cancelled.status < 300, "{}", cancelled.body);
    wait_for(
        "the job's token to be revoked",
        Duration::from_secs(30),
        || async { (get_run().status == 401).then_some(()) },
    )
    .await;
    let info = run_info(server, &run_id, &as_alice);
    assert_eq!(info["status"], "KILLED", "{info}");
    assert!(info["end_time"].as_i64().is_some(), "{info}");
}

/// A tracked job's run that its code did not end ends as the Job did (FINISHED, FAILED); one
/// its code ended keeps the status the code gave it, whatever became of the Job.
#[tokio::test]
async fn a_tracked_jobs_run_ends_as_its_job_did_unless_its_code_ended_it() {
    let Some(test) = connect("jobs-run-end").await else {
        return;
    };
    let gantry = Gantry::start_with(
        "jobs-run-end",
        &[("GANTRY_TRACKING_URI", "http://gantry.test:3000")],
    )
    .unwrap();
    let as_admin = [
        ("Cookie", gantry.cookie.as_str()),
        ("Origin", gantry.origin.as_str()),
    ];
    let launch = |name: &str, annotations: Value| {
        let mut tracked = form(&test, name);
        tracked["annotations"] = annotations;
        tracked["tracking"] = json!(true);
        tracked["experiment"] = json!(format!("{}-runs", test.namespace));
        let launched = gantry.launch(&tracked);
        assert_eq!(launched.status, 201, "{}", launched.body);
        let detail = gantry.server.request(
            "GET",
            &format!("/api/v1/jobs/{}/{name}", test.namespace),
            "",
            &as_admin,
        );
        detail.json()["run_id"].as_str().unwrap().to_string()
    };
    // This job's code ends its run, then its pod fails 15 s later (say, in a clean-up after
    // the last step).
    let ended_by_code = launch(
        "ended",
        json!([{ "key": "pod-fail.stage.kwok.x-k8s.io/delay", "value": "15s" }]),
    );
    let update = gantry.server.request_json(
        "POST",
        "/api/2.0/mlflow/runs/update",
        &json!({ "run_id": ended_by_code, "status": "FINISHED", "end_time": 5 }),
        &as_admin,
    );
    assert_eq!(update.status, 200, "{}", update.body);
    let succeeds = launch("ok", json!([]));
    let fails = launch(
        "oom",
        json!([
            { "key": "pod-fail.stage.kwok.x-k8s.io/delay", "value": "1s" },
            { "key": "pod-fail.stage.kwok.x-k8s.io/exit-code", "value": "137" },
            { "key": "pod-fail.stage.kwok.x-k8s.io/reason", "value": "OOMKilled" }
        ]),
    );

    for (run, status) in [(&succeeds, "FINISHED"), (&fails, "FAILED")] {
        wait_for(
            &format!("the run to end {status}"),
            Duration::from_secs(90),
            || async {
                let info = run_info(&gantry.server, run, &as_admin);
                (info["status"] == status).then_some(())
            },
        )
        .await;
    }
    // Its pods' token refused: the Job's end is written, run and all (`jobs::history`).
    let secret =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(test.client.clone(), &test.namespace)
            .get("ended-mlflow")
            .await
            .unwrap();
    let token = String::from_utf8(secret.data.unwrap()["token"].0.clone()).unwrap();
    let as_pod = format!("Bearer {token}");
    wait_for(
        "the ended job's token to be revoked",
        Duration::from_secs(90),
        || async {
            let refused = runs_get(
                &gantry.server,
                &ended_by_code,
                &[("Authorization", &as_pod)],
            );
            (refused.status == 401).then_some(())
        },
    )
    .await;
    let kept = run_info(&gantry.server, &ended_by_code, &as_admin);
    assert_eq!(
        (&kept["status"], &kept["end_time"]),
        (&json!("FINISHED"), &json!(5)),
        "{kept}"
    );
}

/// A run's `info` through MLflow's `runs/get`.
fn run_info(server: &TestServer, run_id: &str, auth: &[(&str, &str)]) -> Value {
    let run = runs_get(server, run_id, auth);
    assert_eq!(run.status, 200, "{}", run.body);
    run.json()["run"]["info"].clone()
}

fn runs_get(
    server: &TestServer,
    run_id: &str,
    auth: &[(&str, &str)],
) -> crate::common::server::Response {
    server.request(
        "GET",
        &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
        "",
        auth,
    )
}

/// Without `GANTRY_TRACKING_URI` a tracked launch is refused, naming the field, and nothing
/// is created.
#[tokio::test]
async fn tracking_without_an_address_for_the_pods_creates_nothing() {
    let Some(test) = connect("jobs-tracking-off").await else {
        return;
    };
    let gantry = Gantry::start("jobs-tracking-off").unwrap();
    let mut tracked = form(&test, "untracked");
    tracked["tracking"] = json!(true);
    tracked["experiment"] = json!("nowhere");
    let refused = gantry.launch(&tracked);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_contains(&refused.body, "GANTRY_TRACKING_URI");
    assert_contains(&refused.body, "\"field\":\"tracking\"");
    let jobs: Api<Job> = Api::namespaced(test.client.clone(), &test.namespace);
    assert!(jobs.get_opt("untracked").await.unwrap().is_none());
}
