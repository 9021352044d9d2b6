//! `k8s/` as people deploy it: each overlay passes the API server's own validation on the
//! local cluster (`kubectl apply --dry-run=server -k`, as an admin would apply it), and the
//! Deployment it makes runs hardened: non-root, read-only root filesystem, no capabilities,
//! the runtime's seccomp profile. The Ingress example is valid too, and tells Gantry to
//! trust the proxy in front of it; the ha overlay runs replicas apart on PostgreSQL with a
//! disruption budget, and its ServiceMonitor and PrometheusRule pass the real CRDs' schemas
//! (and promtool).

use std::path::Path;
use std::process::Command;

use crate::common::cluster::{cluster_setting, kubeconfig_path};

/// The objects of the kustomization at `k8s/<dir>` as the API server would store them
/// (defaults filled in).
fn dry_run(dir: &str) -> Option<Vec<serde_json::Value>> {
    let admin = kubeconfig_path("manifests")?;
    let kubectl = cluster_setting("GANTRY_TEST_KUBECTL")?;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../k8s")
        .join(dir);
    let out = Command::new(kubectl)
        .arg(format!("--kubeconfig={}", admin.display()))
        .args(["apply", "--dry-run=server", "-o", "json", "-k"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(list["items"].as_array().unwrap().clone())
}

fn kind<'a>(objects: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn the_single_overlay_is_valid_and_runs_one_hardened_replica_on_its_volume() {
    let Some(objects) = dry_run("overlays/single") else {
        return;
    };
    for expected in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Service",
        "NetworkPolicy",
        "PersistentVolumeClaim",
    ] {
        kind(&objects, expected);
    }
    let deployment = kind(&objects, "Deployment");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"]["type"], "Recreate");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "gantry");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let data = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "data")
        .unwrap();
    assert_eq!(data["persistentVolumeClaim"]["claimName"], "gantry-data");
    assert!(data.get("emptyDir").is_none(), "{data}");
}

#[test]
fn the_ingress_example_serves_tls_and_trusts_its_proxy() {
    let Some(objects) = dry_run("examples/ingress") else {
        return;
    };
    let ingress = kind(&objects, "Ingress");
    assert_eq!(ingress["spec"]["tls"][0]["secretName"], "gantry-tls");
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "gantry");
    let env = kind(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    let value = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
            .unwrap_or_else(|| panic!("no {name} in {env:?}"))
    };
    assert_eq!(value("GANTRY_TRUSTED_PROXIES"), "10.244.0.0/16");
    assert_eq!(value("GANTRY_SECURE_COOKIES"), "true");
    // The base's settings are kept beside the example's.
    assert_eq!(value("GANTRY_LISTEN_ADDR"), "0.0.0.0:3000");
}

#[test]
fn the_ha_overlay_runs_replicas_on_postgres_apart_with_a_budget_and_its_monitoring() {
    let Some(objects) = dry_run("overlays/ha") else {
        return;
    };
    let deployment = kind(&objects, "Deployment");
    let spec = &deployment["spec"];
    assert!(spec["replicas"].as_i64().unwrap() >= 2);
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let pod = &spec["template"]["spec"];
    let anti =
        &pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    let env = pod["containers"][0]["env"].as_array().unwrap();
    let setting = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(
        setting("GANTRY_DATABASE_URL")["valueFrom"]["secretKeyRef"]["name"],
        "gantry-database"
    );
    assert_eq!(
        setting("GANTRY_LEADER_LEASE")["value"],
        "gantry/gantry-leader"
    );
    // Hardening and probes come from the base.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["containers"][0]["readinessProbe"]["httpGet"]["path"],
        "/readyz"
    );

    let budget = kind(&objects, "PodDisruptionBudget");
    assert_eq!(budget["spec"]["maxUnavailable"], 1);
    let monitor = kind(&objects, "ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    // The leader's Role is granted in Gantry's namespace only.
    let role = objects
        .iter()
        .find(|o| o["kind"] == "Role" && o["metadata"]["name"] == "gantry-leader-election")
        .expect("the leader-election Role");
    assert_eq!(role["metadata"]["namespace"], "gantry");

    // The alerts are rules Prometheus accepts: promtool checks the PrometheusRule's groups.
    let rules = &kind(&objects, "PrometheusRule")["spec"];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.json");
    std::fs::write(&file, rules.to_string()).unwrap();
    let bin = cluster_setting("GANTRY_TEST_CLUSTER_BIN").unwrap();
    let check = Command::new(Path::new(&bin).join("promtool"))
        .args(["check", "rules", "--lint=all"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
