//! The model registry. First the real MLflow client against Gantry:
//! `server/tests/mlflow/client.py` runs in the cached virtual environment that
//! `tools/setup.sh` installs (`GANTRY_MLFLOW_PYTHON`, set by `tools/env.sh`), with three users'
//! API tokens: a team-a data scientist, a team-b data scientist and a team-a viewer (skipped,
//! saying so, when that Python is not set). Then the artifact store's limit, and Gantry's JSON
//! API for CI.

use std::process::Command;

use crate::common::server::TestServer;

#[test]
fn the_real_mlflow_client_logs_registers_downloads_and_is_kept_to_its_namespace() {
    let server = TestServer::spawn();
    if !run_the_mlflow_client(&server) {
        return;
    }

    // The registry's writes are in the audit log, as their author.
    let db = server.database();
    let audited = db.texts(
        "SELECT action || ' ' || object || ' ' || result FROM audit_log \
         WHERE actor = 'alice' AND action LIKE 'model.%' ORDER BY id",
    );
    assert!(
        audited
            .iter()
            .any(|a| a == "model.version.create model/team-a/fraud-detector ok"),
        "{audited:#?}"
    );
    assert!(
        audited
            .iter()
            .any(|a| a == "model.alias model/team-a/fraud-detector ok"),
        "{audited:#?}"
    );
    let refused =
        db.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'vera' AND action = 'model.create'");
    assert_eq!(refused, 0, "a refusal before the change is not a change");
}

/// An artifact upload over `GANTRY_ARTIFACT_MAX_BYTES` is refused and leaves nothing behind;
/// one within it is stored whole and read back byte for byte; the rest of the API keeps its
/// 1 MiB limit.
#[test]
fn artifact_uploads_are_bounded_by_their_setting_and_stored_whole() {
    let server = TestServer::spawn_with(&[("GANTRY_ARTIFACT_MAX_BYTES", "1000")]);
    let (bearer, experiment) = alice_and_experiment(&server, "bounded");
    let auth = [("Authorization", bearer.as_str())];
    let file = format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/r1/artifacts/weights.bin");
    let listing = format!("/api/2.0/mlflow-artifacts/artifacts?path={experiment}/r1/artifacts");

    let too_big = server.request("PUT", &file, &"x".repeat(1001), &auth);
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    let listed = server.request("GET", &listing, "", &auth);
    assert_eq!((listed.status, listed.body.as_str()), (200, "{}"));

    let fits = "0123456789".repeat(100);
    let stored = server.request("PUT", &file, &fits, &auth);
    assert_eq!(stored.status, 200, "{}", stored.body);
    let read = server.request("GET", &file, "", &auth);
    assert_eq!((read.status, read.body.as_str()), (200, fits.as_str()));
    let listed = server.request("GET", &listing, "", &auth).json();
    assert_eq!(
        listed,
        serde_json::json!({ "files": [{ "path": "weights.bin", "is_dir": false, "file_size": 1000 }] })
    );

    let escape = server.request(
        "GET",
        &format!("/api/2.0/mlflow-artifacts/artifacts?path={experiment}/../../etc"),
        "",
        &auth,
    );
    assert_eq!(escape.status, 400, "{}", escape.body);
    assert_eq!(escape.json()["error_code"], "INVALID_PARAMETER_VALUE");
    let unknown = server.request("GET", "/api/2.0/mlflow/no/such/endpoint", "", &auth);
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error_code"], "ENDPOINT_NOT_FOUND");
    let big_json = server.announce_body("/api/2.0/mlflow/runs/log-batch", 2 * 1024 * 1024);
    assert_eq!(big_json.status, 413);
}

/// CI promotes a version with an API token through Gantry's JSON API; a viewer's token is
/// refused and changes nothing; bad input names its field.
#[test]
fn ci_promotes_a_version_to_an_alias_and_a_viewer_cannot() {
    let server = TestServer::spawn();
    let admin = server.login();
    let mut bearer = Vec::new();
    for (name, role) in [("alice", "data-scientist"), ("vera", "viewer")] {
        let password = format!("{name} long password");
        server.create_account(&admin, name, &password, role, "team-a");
        let cookie = server.login_as(name, &password);
        bearer.push(format!("Bearer {}", server.create_token(&cookie)));
    }
    let alice = [("Authorization", bearer[0].as_str())];
    let vera = [("Authorization", bearer[1].as_str())];
    let call = |path: &str, body: serde_json::Value| mlflow(&server, path, body, &alice);
    call(
        "registered-models/create",
        serde_json::json!({ "name": "ranker" }),
    );
    for n in 1..=2 {
        call(
            "model-versions/create",
            serde_json::json!({ "name": "ranker", "source": format!("s3://m/ranker/{n}") }),
        );
    }
    let promote = |who: &[(&str, &str)], body: serde_json::Value| {
        server.request_json(
            "PUT",
            "/api/v1/models/ranker/aliases/production",
            &body,
            who,
        )
    };

    let refused = promote(&vera, serde_json::json!({ "version": 2 }));
    assert_eq!(refused.status, 403, "{}", refused.body);
    let bad = promote(&alice, serde_json::json!({ "version": "two" }));
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("body"), "{}", bad.body);
    let missing = promote(&alice, serde_json::json!({ "version": 9 }));
    assert_eq!(missing.status, 404, "{}", missing.body);
    let read = server
        .request("GET", "/api/v1/models/ranker", "", &vera)
        .json();
    assert_eq!(
        read["model"]["aliases"],
        serde_json::json!([]),
        "nothing changed yet"
    );
    assert_eq!(read["can_manage"], false);

    let promoted = promote(&alice, serde_json::json!({ "version": 2 }));
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(
        promoted.json()["model"]["aliases"],
        serde_json::json!([["production", 2]])
    );
    let staged = server.request_json(
        "PUT",
        "/api/v1/models/ranker/versions/2/stage",
        &serde_json::json!({ "stage": "Production" }),
        &alice,
    );
    assert_eq!(staged.status, 200, "{}", staged.body);
    assert_eq!(staged.json()["versions"][0]["stage"], "Production");
    let listed = server
        .request("GET", "/api/v1/models?search=rank", "", &vera)
        .json();
    assert_eq!(listed[0]["name"], "ranker");

    let audited = server.database().texts(
        "SELECT actor || ' ' || action || ' ' || detail || ' ' || result FROM audit_log \
         WHERE object = 'model/team-a/ranker' AND action = 'model.alias' ORDER BY id",
    );
    assert_eq!(audited, ["alice model.alias @production -> version 2 ok"]);
}

/// The model page's file browser lists only inside the version's own files: another run's
/// folder is refused, and so is a user of another namespace.
#[test]
fn the_file_browser_stays_inside_the_version() {
    let server = TestServer::spawn();
    let admin = server.login();
    let origin = server.base.clone();
    server.create_account(
        &admin,
        "alice",
        "alice long password",
        "data-scientist",
        "team-a",
    );
    server.create_account(
        &admin,
        "bob",
        "bob long password",
        "data-scientist",
        "team-b",
    );
    let alice = server.login_as("alice", "alice long password");
    let bob = server.login_as("bob", "bob long password");
    let as_alice = [("Cookie", alice.as_str()), ("Origin", origin.as_str())];
    let call = |path: &str, body: serde_json::Value| mlflow(&server, path, body, &as_alice);
    let experiment = call("experiments/create", serde_json::json!({ "name": "files" }))
        ["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut runs = Vec::new();
    for file in ["model/MLmodel", "secret/notes.txt"] {
        let run = call(
            "runs/create",
            serde_json::json!({ "experiment_id": experiment }),
        )["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let put = server.request(
            "PUT",
            &format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/{file}"),
            "x",
            &as_alice,
        );
        assert_eq!(put.status, 200, "{}", put.body);
        runs.push(run);
    }
    call(
        "registered-models/create",
        serde_json::json!({ "name": "m" }),
    );
    call(
        "model-versions/create",
        serde_json::json!({ "name": "m", "source": format!("runs:/{}/model", runs[0]) }),
    );
    let files = |cookie: &str, folder: &str| {
        server.request(
            "POST",
            "/api/models/files",
            &format!("name=m&version=1&folder={folder}"),
            &[("Cookie", cookie), ("Origin", origin.as_str())],
        )
    };
    let root = files(&alice, "");
    assert_eq!(root.status, 200, "{}", root.body);
    assert_eq!(root.json()["files"][0]["name"], "MLmodel");
    let other_run = files(
        &alice,
        &format!("{experiment}/{}/artifacts/secret", runs[1]),
    );
    assert_eq!(other_run.status, 400, "{}", other_run.body);
    assert!(other_run.body.contains("folder"), "{}", other_run.body);
    let escape = files(
        &alice,
        &format!("{experiment}/{}/artifacts/model/../../x", runs[0]),
    );
    assert_eq!(escape.status, 400, "{}", escape.body);
    let other_team = files(&bob, "");
    assert_eq!(other_team.status, 403, "{}", other_team.body);
}

/// Sixteen registrations of one model at once each get a version, numbered 1 to 16: the race
/// for the next number queues them, never answering with an error the client would fail on.
#[test]
fn concurrent_registrations_each_get_their_own_version() {
    let server = TestServer::spawn();
    let bearer = alice_bearer(&server);
    let auth = [("Authorization", bearer.as_str())];
    mlflow(
        &server,
        "registered-models/create",
        serde_json::json!({ "name": "busy" }),
        &auth,
    );
    let mut versions: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|n| {
                let server = &server;
                let auth = &auth;
                scope.spawn(move || {
                    let response = server.request_json(
                        "POST",
                        "/api/2.0/mlflow/model-versions/create",
                        &serde_json::json!({ "name": "busy", "source": format!("s3://m/{n}") }),
                        auth,
                    );
                    assert_eq!(response.status, 200, "{}", response.body);
                    response.json()["model_version"]["version"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    versions.sort_by_key(|v| v.parse::<u32>().unwrap());
    assert_eq!(
        versions,
        (1..=16).map(|n| n.to_string()).collect::<Vec<_>>()
    );

    // The model's latest versions are the highest in each stage.
    for (version, stage) in [("5", "Production"), ("9", "Staging"), ("12", "Staging")] {
        let body = serde_json::json!({ "name": "busy", "version": version, "stage": stage,
                                       "archive_existing_versions": false });
        mlflow(&server, "model-versions/transition-stage", body, &auth);
    }
    let latest = |answer: serde_json::Value, list: &str| -> Vec<(String, String)> {
        answer[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let field = |name: &str| v[name].as_str().unwrap().to_string();
                (field("version"), field("current_stage"))
            })
            .collect()
    };
    let model = server.request(
        "GET",
        "/api/2.0/mlflow/registered-models/get?name=busy",
        "",
        &auth,
    );
    assert_eq!(
        latest(model.json()["registered_model"].clone(), "latest_versions"),
        [("5", "Production"), ("12", "Staging"), ("16", "None")].map(|(v, s)| (v.into(), s.into()))
    );
    let staging = serde_json::json!({ "name": "busy", "stages": ["staging"] });
    assert_eq!(
        latest(
            mlflow(
                &server,
                "registered-models/get-latest-versions",
                staging,
                &auth
            ),
            "model_versions"
        ),
        [("12".to_string(), "Staging".to_string())]
    );
}

/// A run's page charts each metric by step with at most 600 points (2,000 logged: averaged
/// in spans of 4 steps; NaN and Infinity left out of the line), lists params and the user's
/// own tags, and lists the run's files; the experiments list counts its runs. A viewer of
/// team-a reads it all; a team-b user sees no experiment and is refused the run.
#[test]
fn a_run_is_charted_by_step_and_shown_only_in_its_namespace() {
    let server = TestServer::spawn();
    let cookies = alice_vera_and_bob(&server);
    let headers = |i: usize| {
        [
            ("Cookie", cookies[i].as_str()),
            ("Origin", server.base.as_str()),
        ]
    };
    let (alice, vera, bob) = (headers(0), headers(1), headers(2));
    let call = |path: &str, body: serde_json::Value| mlflow(&server, path, body, &alice);
    let get = |who: &[(&str, &str)], path: &str| server.request("GET", path, "", who);
    let experiment = call(
        "experiments/create",
        serde_json::json!({ "name": "charts" }),
    )["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = call(
        "runs/create",
        serde_json::json!({ "experiment_id": experiment, "run_name": "baseline",
                            "tags": [{ "key": "team", "value": "vision" }] }),
    )["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    for batch in 0..2 {
        let metrics: Vec<serde_json::Value> = (0..1000)
            .map(|k| {
                let step = batch * 1000 + k;
                serde_json::json!({ "key": "loss", "value": step as f64, "timestamp": 1, "step": step })
            })
            .collect();
        call(
            "runs/log-batch",
            serde_json::json!({ "run_id": run, "metrics": metrics }),
        );
    }
    call(
        "runs/log-batch",
        serde_json::json!({ "run_id": run,
            "metrics": [
                { "key": "loss", "value": "NaN", "timestamp": 1, "step": 5000 },
                { "key": "loss", "value": "Infinity", "timestamp": 2, "step": 5000 },
                { "key": "accuracy", "value": 0.5, "timestamp": 1, "step": 0 },
                { "key": "accuracy", "value": 0.93, "timestamp": 1, "step": 1 }
            ],
            "params": [{ "key": "lr", "value": "0.01" }] }),
    );
    let put = server.request(
        "PUT",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/model/MLmodel"),
        "flavors: {}",
        &alice,
    );
    assert_eq!(put.status, 200, "{}", put.body);

    for who in [&alice, &vera] {
        let page = get(who, &format!("/api/v1/runs/{run}"));
        assert_eq!(page.status, 200, "{}", page.body);
        let page = page.json();
        assert_eq!(page["run"]["name"], "baseline");
        assert_eq!(page["experiment"]["name"], "charts");
        assert_eq!(page["params"], serde_json::json!([["lr", "0.01"]]));
        assert_eq!(
            page["tags"],
            serde_json::json!([["team", "vision"]]),
            "MLflow's own tags are fields, not tags"
        );
        let charts = page["charts"].as_array().unwrap();
        let keys: Vec<&str> = charts.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(keys, ["accuracy", "loss"]);
        assert_eq!(
            charts[0]["series"][0]["points"],
            serde_json::json!([[0, 0.5], [1, 0.93]])
        );
        let loss = charts[1]["series"][0]["points"].as_array().unwrap();
        assert!(
            loss.len() <= 600 && loss.len() >= 500,
            "{} points",
            loss.len()
        );
        // Spans of (1999 / 600 + 1) = 4 steps: 0..3 averages to 1.5; the NaN and Infinity of
        // step 5000 are not drawn.
        assert_eq!(loss[0], serde_json::json!([0, 1.5]));
        assert_eq!(loss.last().unwrap()[0], 1996);
        assert!(page["svgs"][1].as_str().unwrap().starts_with("<svg"));
        let latest = page["run"]["metrics"].as_array().unwrap();
        assert_eq!(
            latest[1],
            serde_json::json!(["loss", "Infinity"]),
            "{latest:?}"
        );
    }
    let listed = get(&vera, "/api/v1/experiments?search=char").json();
    assert_eq!(listed[0]["name"], "charts");
    assert_eq!(listed[0]["runs"], 1);
    let runs = get(&vera, &format!("/api/v1/experiments/{experiment}")).json();
    assert_eq!(runs["runs"][0]["id"], run.as_str());
    let files = server.request(
        "POST",
        "/api/models/run-files",
        &format!("id={run}&folder="),
        &vera,
    );
    assert_eq!(files.status, 200, "{}", files.body);
    assert_eq!(files.json()["files"][0]["name"], "model");

    assert_eq!(
        get(&bob, "/api/v1/experiments").json(),
        serde_json::json!([])
    );
    for path in [
        format!("/api/v1/runs/{run}"),
        format!("/api/v1/experiments/{experiment}"),
    ] {
        let refused = get(&bob, &path);
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
    }
    for path in ["/api/v1/runs/nope", "/api/v1/experiments/x1"] {
        let missing = get(&alice, path);
        assert_eq!(missing.status, 404, "{path}: {}", missing.body);
    }
}

/// The session cookies of alice (team-a data scientist), vera (team-a viewer) and bob
/// (team-b data scientist), created on `server`.
pub(crate) fn alice_vera_and_bob(server: &TestServer) -> [String; 3] {
    let admin = server.login();
    [
        ("alice", "data-scientist", "team-a"),
        ("vera", "viewer", "team-a"),
        ("bob", "data-scientist", "team-b"),
    ]
    .map(|(name, role, namespace)| {
        let password = format!("{name} long password");
        server.create_account(&admin, name, &password, role, namespace);
        server.login_as(name, &password)
    })
}

/// Alice's `Authorization` value (see [`alice_bearer`]) and the id of an experiment `name`
/// she created.
pub(crate) fn alice_and_experiment(server: &TestServer, name: &str) -> (String, String) {
    let bearer = alice_bearer(server);
    let created = mlflow(
        server,
        "experiments/create",
        serde_json::json!({ "name": name }),
        &[("Authorization", bearer.as_str())],
    );
    let experiment = created["experiment_id"].as_str().unwrap().to_string();
    (bearer, experiment)
}

/// A team-a data scientist, alice, on `server`: her `Authorization` header's value.
fn alice_bearer(server: &TestServer) -> String {
    let admin = server.login();
    let password = "alice long password";
    server.create_account(&admin, "alice", password, "data-scientist", "team-a");
    let alice = server.login_as("alice", password);
    format!("Bearer {}", server.create_token(&alice))
}

/// One MLflow call that must succeed; its answer.
pub(crate) fn mlflow(
    server: &TestServer,
    path: &str,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> serde_json::Value {
    let response = server.request_json("POST", &format!("/api/2.0/mlflow/{path}"), &body, headers);
    assert_eq!(response.status, 200, "{path}: {}", response.body);
    response.json()
}

/// Runs `client.py` against `server` with alice's, bob's and vera's tokens and checks that
/// all its checks passed; false (skipped, saying so) when the client's Python is not set.
pub(crate) fn run_the_mlflow_client(server: &TestServer) -> bool {
    let Some(mut python) = mlflow_python(server) else {
        return false;
    };
    let admin = server.login();
    let users = [
        ("alice", "data-scientist", "team-a"),
        ("bob", "data-scientist", "team-b"),
        ("vera", "viewer", "team-a"),
    ];
    let mut tokens = Vec::new();
    for (name, role, namespace) in users {
        let password = format!("{name} long password");
        server.create_account(&admin, name, &password, role, namespace);
        let cookie = server.login_as(name, &password);
        tokens.push((
            format!("{}_TOKEN", name.to_uppercase()),
            server.create_token(&cookie),
        ));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mlflow/client.py");
    let output = python
        .arg(script)
        .envs(tokens)
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .output()
        .expect("the MLflow client's Python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the MLflow client failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("all MLflow client checks passed"),
        "{stdout}"
    );

    eprint!("{stdout}");
    true
}

/// The MLflow client's Python (`GANTRY_MLFLOW_PYTHON`) set to talk to `server`, with no
/// retries so that a failure shows at once; `None` (skipped, saying so) when it is not set.
fn mlflow_python(server: &TestServer) -> Option<Command> {
    let Some(python) = std::env::var_os("GANTRY_MLFLOW_PYTHON") else {
        eprintln!("skipped: GANTRY_MLFLOW_PYTHON is not set (make test sets it)");
        return None;
    };
    let mut command = Command::new(python);
    command
        .env("MLFLOW_TRACKING_URI", &server.base)
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .env("MLFLOW_DISABLE_TELEMETRY", "true");
    Some(command)
}

/// The README's MLflow snippet, as the README has it, run as a team-a data scientist with
/// only the two exports it names: it logs a run and registers a version, READY, of that run.
#[test]
fn the_readme_snippet_logs_a_run_and_registers_a_version() {
    let server = TestServer::spawn();
    let Some(mut python) = mlflow_python(&server) else {
        return;
    };
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let snippet = readme
        .split_once("python - <<'PY'\n")
        .and_then(|(_, rest)| rest.split_once("\nPY\n"))
        .map(|(code, _)| code)
        .expect("the README's MLflow snippet (python - <<'PY' … PY)");
    let admin = server.login();
    let password = "alice long password";
    server.create_account(&admin, "alice", password, "data-scientist", "team-a");
    let token = server.create_token(&server.login_as("alice", password));
    let workdir = tempfile::tempdir().unwrap();
    let output = python
        .args(["-c", snippet])
        .current_dir(workdir.path())
        .env("MLFLOW_TRACKING_TOKEN", &token)
        .output()
        .expect("the MLflow client's Python runs");
    assert!(
        output.status.success(),
        "the README's snippet failed\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let model = server.request(
        "GET",
        "/api/2.0/mlflow/registered-models/get?name=fraud-detector",
        "",
        &auth,
    );
    assert_eq!(model.status, 200, "{}", model.body);
    let versions = &model.json()["registered_model"]["latest_versions"];
    assert_eq!(versions.as_array().map(Vec::len), Some(1), "{versions}");
    assert_eq!(
        (
            &versions[0]["version"],
            &versions[0]["status"],
            &versions[0]["user_id"]
        ),
        (
            &serde_json::json!("1"),
            &serde_json::json!("READY"),
            &serde_json::json!("alice")
        )
    );
    let run_id = versions[0]["run_id"]
        .as_str()
        .expect("the version names its run");
    let run = server.request(
        "GET",
        &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
        "",
        &auth,
    );
    assert_eq!(run.status, 200, "{}", run.body);
    let run = run.json();
    assert_eq!(
        run["run"]["data"]["params"][0],
        serde_json::json!({ "key": "epochs", "value": "100" })
    );
    assert_eq!(run["run"]["data"]["metrics"][0]["value"], 0.93);
    let experiment = server.request(
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=model-training",
        "",
        &auth,
    );
    assert_eq!(
        experiment.json()["experiment"]["experiment_id"],
        run["run"]["info"]["experiment_id"]
    );
}

/// A `runs/search` with a filter or `order_by` reads only the experiment's newest
/// `GANTRY_MLFLOW_SEARCH_MAX_RUNS` runs, however many there are; paging without either
/// still reaches every run.
#[test]
fn a_filtered_run_search_reads_at_most_its_setting_of_runs() {
    let server = TestServer::spawn_with(&[("GANTRY_MLFLOW_SEARCH_MAX_RUNS", "3")]);
    let (bearer, experiment) = alice_and_experiment(&server, "many-runs");
    let auth = [("Authorization", bearer.as_str())];
    let call = |path: &str, body: serde_json::Value| mlflow(&server, path, body, &auth);
    for i in 0..5 {
        let created = call(
            "runs/create",
            serde_json::json!({ "experiment_id": experiment, "run_name": format!("r{i}"),
                                "start_time": 1000 * (i + 1) }),
        );
        let run = created["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        call(
            "runs/log-metric",
            serde_json::json!({ "run_id": run, "key": "accuracy", "value": i, "timestamp": 1, "step": 0 }),
        );
    }
    let names = |filter: &str, order_by: &[&str]| -> Vec<String> {
        let search = serde_json::json!({ "experiment_ids": [experiment], "filter": filter,
                                         "order_by": order_by });
        call("runs/search", search)["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["info"]["run_name"].as_str().unwrap().to_string())
            .collect()
    };

    assert_eq!(
        names("metrics.accuracy >= 0", &["metrics.accuracy ASC"]),
        ["r2", "r3", "r4"]
    );
    assert_eq!(
        names("", &["attributes.start_time ASC"]),
        ["r2", "r3", "r4"]
    );
    assert_eq!(names("", &[]), ["r4", "r3", "r2", "r1", "r0"]);
}
