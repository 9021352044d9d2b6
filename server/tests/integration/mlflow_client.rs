//! The real MLflow client against Gantry: `server/tests/mlflow/client.py` runs in the cached
//! virtual environment that `tools/setup.sh` installs (`GANTRY_MLFLOW_PYTHON`, set by the
//! test command), with three users' API tokens: a team-a data scientist, a team-b data
//! scientist and a team-a viewer. Skipped, saying so, when that Python is not set.

use std::process::Command;

use crate::common::server::TestServer;

#[test]
fn the_real_mlflow_client_logs_registers_downloads_and_is_kept_to_its_namespace() {
    let Some(python) = std::env::var_os("GANTRY_MLFLOW_PYTHON") else {
        eprintln!("skipped: GANTRY_MLFLOW_PYTHON is not set (make test sets it)");
        return;
    };
    let server = TestServer::spawn();
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
    let output = Command::new(python)
        .arg(script)
        .envs(tokens)
        .env("MLFLOW_TRACKING_URI", &server.base)
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
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
