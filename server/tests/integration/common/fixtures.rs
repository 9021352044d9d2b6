//! Objects several tests create, written once.

use k8s_openapi::api::core::v1::Pod;

/// An image the local cluster never pulls (kwok runs the pods), named as a user would.
pub const IMAGE: &str = "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime";

/// A pod named `name` holding `gpus` whole GPUs, pinned to `node` by its hostname label
/// when one is given (the scheduler still binds it), else placed wherever it fits.
pub fn gpu_pod(name: &str, gpus: u32, node: Option<&str>) -> Pod {
    let mut spec = serde_json::json!({
        "containers": [{ "name": "main", "image": IMAGE,
                         "resources": { "limits": { "nvidia.com/gpu": gpus.to_string() } } }]
    });
    if let Some(node) = node {
        spec["nodeSelector"] = serde_json::json!({ "kubernetes.io/hostname": node });
    }
    serde_json::from_value(serde_json::json!({ "metadata": { "name": name }, "spec": spec }))
        .expect("a valid pod")
}
