//! `k8s/` as people deploy it: each overlay passes the API server's own validation on the
//! local cluster (`kubectl apply --dry-run=server -k`, as an admin would apply it), and the
//! Deployment it makes runs hardened: non-root, read-only root filesystem, no capabilities,
//! the runtime's seccomp profile. The Ingress example is valid too, and tells Gantry to
//! trust the proxy in front of it.

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
