//! The Models pages' reads, through their server functions as the pages call them: runs and
//! versions side by side with the differing rows marked, kept to the caller's namespaces, a
//! description's Markdown rendered without its scripts, and a version's lineage.

use crate::common::server::TestServer;
use crate::models::{alice_vera_and_bob, mlflow};

/// Two runs of team-a (different `lr`, same `epochs`; `accuracy` logged by one only) compared
/// as runs and as the two versions registered from them: a viewer of team-a reads both, a
/// team-b user is refused both, and fewer than two or more than eight are a field error.
#[test]
fn runs_and_versions_are_compared_side_by_side_within_the_callers_namespaces() {
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
    let experiment = call("experiments/create", serde_json::json!({ "name": "sweep" }))
        ["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut runs = Vec::new();
    for (name, lr, accuracy) in [("small-lr", "0.01", None), ("big-lr", "0.1", Some(0.9))] {
        let run = call(
            "runs/create",
            serde_json::json!({ "experiment_id": experiment, "run_name": name }),
        )["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut metrics =
            vec![serde_json::json!({ "key": "loss", "value": 0.25, "timestamp": 1, "step": 1 })];
        if let Some(value) = accuracy {
            metrics.push(
                serde_json::json!({ "key": "accuracy", "value": value, "timestamp": 1, "step": 1 }),
            );
        }
        call(
            "runs/log-batch",
            serde_json::json!({ "run_id": run, "metrics": metrics,
                "params": [{ "key": "lr", "value": lr }, { "key": "epochs", "value": "3" }] }),
        );
        runs.push(run);
    }
    call(
        "registered-models/create",
        serde_json::json!({ "name": "sweeper",
            "description": "Trained on **June** data. [x](javascript:alert(1)) <script>alert(2)</script>" }),
    );
    for run in &runs {
        call(
            "model-versions/create",
            serde_json::json!({ "name": "sweeper", "run_id": run, "source": format!("runs:/{run}/model") }),
        );
    }
    call(
        "registered-models/alias",
        serde_json::json!({ "name": "sweeper", "alias": "champion", "version": "2" }),
    );
    let compare_runs = |who: &[(&str, &str)], ids: &[&str]| {
        let body: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| format!("ids[{i}]={id}"))
            .collect();
        server.request("POST", "/api/models/compare-runs", &body.join("&"), who)
    };
    let compare_versions = |who: &[(&str, &str)], versions: &[i64]| {
        let mut body = vec!["name=sweeper".to_string()];
        body.extend(
            versions
                .iter()
                .enumerate()
                .map(|(i, v)| format!("versions[{i}]={v}")),
        );
        server.request("POST", "/api/models/compare-versions", &body.join("&"), who)
    };
    let row = |rows: &serde_json::Value, key: &str| -> serde_json::Value {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no row {key} in {rows}"))
            .clone()
    };

    let found = compare_runs(&vera, &[&runs[0], &runs[1]]);
    assert_eq!(found.status, 200, "{}", found.body);
    let found = found.json();
    assert_eq!(found["columns"][0]["label"], "small-lr");
    assert_eq!(found["columns"][1]["href"], format!("/runs/{}", runs[1]));
    assert_eq!(
        row(&found["params"], "lr")["values"],
        serde_json::json!(["0.01", "0.1"])
    );
    assert_eq!(row(&found["params"], "lr")["differs"], true);
    assert_eq!(row(&found["params"], "epochs")["differs"], false);
    assert_eq!(row(&found["metrics"], "loss")["differs"], false);
    let accuracy = row(&found["metrics"], "accuracy");
    assert_eq!(accuracy["values"], serde_json::json!([null, "0.9"]));
    assert_eq!(
        accuracy["differs"], true,
        "missing from one run counts as a difference"
    );
    assert_eq!(
        row(&found["facts"], "Status")["values"],
        serde_json::json!(["RUNNING", "RUNNING"])
    );

    let versions = compare_versions(&vera, &[2, 1]);
    assert_eq!(versions.status, 200, "{}", versions.body);
    let versions = versions.json();
    assert_eq!(versions["columns"][0]["label"], "version 2");
    assert_eq!(
        row(&versions["facts"], "Aliases")["values"],
        serde_json::json!(["@champion", ""])
    );
    assert_eq!(
        row(&versions["facts"], "Run")["values"],
        serde_json::json!(["big-lr", "small-lr"])
    );
    assert_eq!(
        row(&versions["params"], "lr")["values"],
        serde_json::json!(["0.1", "0.01"])
    );

    // Someone outside team-a learns nothing: the runs and the model are refused.
    assert_eq!(compare_runs(&bob, &[&runs[0], &runs[1]]).status, 403);
    assert_eq!(compare_versions(&bob, &[1, 2]).status, 403);
    // Too few, too many, a version that is not there.
    let one = compare_runs(&alice, &[&runs[0], &runs[0]]);
    assert_eq!(one.status, 400, "{}", one.body);
    assert!(
        one.body.contains("ids") && one.body.contains("at least two"),
        "{}",
        one.body
    );
    let nine = compare_versions(&alice, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(nine.status, 400, "{}", nine.body);
    assert!(
        nine.body.contains("versions") && nine.body.contains("at most 8"),
        "{}",
        nine.body
    );
    assert_eq!(compare_versions(&alice, &[1, 7]).status, 404);

    // Version 2's lineage: the run with what it logged, no Job (the run was not launched by
    // Gantry); a third version made from it names it as its parent.
    let lineage = server.request(
        "POST",
        "/api/models/version",
        "name=sweeper&version=2",
        &vera,
    );
    assert_eq!(lineage.status, 200, "{}", lineage.body);
    let lineage = lineage.json();
    assert_eq!(lineage["run"]["run"]["name"], "big-lr");
    assert_eq!(lineage["run"]["experiment"]["name"], "sweep");
    assert_eq!(
        lineage["run"]["params"],
        serde_json::json!([["epochs", "3"], ["lr", "0.1"]])
    );
    assert_eq!(lineage["job"], serde_json::Value::Null);
    assert_eq!(lineage["parent"], serde_json::Value::Null);
    call(
        "model-versions/create",
        serde_json::json!({ "name": "sweeper", "source": "s3://m/sweeper-int8",
            "tags": [{ "key": "gantry.parent", "value": "models:/sweeper/2" }] }),
    );
    let child = server.request(
        "POST",
        "/api/models/version",
        "name=sweeper&version=3",
        &vera,
    );
    assert_eq!(
        child.json()["parent"],
        serde_json::json!(["sweeper", 2]),
        "{}",
        child.body
    );
    assert_eq!(child.json()["run"], serde_json::Value::Null);
    let refused = server.request(
        "POST",
        "/api/models/version",
        "name=sweeper&version=2",
        &bob,
    );
    assert_eq!(refused.status, 403, "{}", refused.body);

    // The description: its Markdown rendered, its script and javascript: link gone.
    let detail = server.request("POST", "/api/models/detail", "name=sweeper", &vera);
    assert_eq!(detail.status, 200, "{}", detail.body);
    let html = detail.json()["description_html"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(html.contains("<strong>June</strong>"), "{html}");
    for bad in ["<script", "alert", "javascript:"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
}
