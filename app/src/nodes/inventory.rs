//! GPU arithmetic over Nodes and Pods (server only): what each node has, what its pods
//! hold, and what is free. Allocated GPUs are not an API field; they are summed here the
//! way the scheduler counts requests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{GpuNodeRow, NodeHealth};

/// The resource name of whole GPUs (and of time-sliced replicas) from the NVIDIA plugin.
pub const GPU: &str = "nvidia.com/gpu";
/// MIG slices in mixed mode are resources of their own: `nvidia.com/mig-<profile>`.
pub const MIG_PREFIX: &str = "nvidia.com/mig-";

/// A whole-number quantity (GPU counts are never fractional); anything else counts as 0.
fn count(quantity: Option<&Quantity>) -> i64 {
    quantity
        .and_then(|q| q.0.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

fn container_request(container: &Container, resource: &str) -> i64 {
    // Extended resources may only be set as limits; then the request equals the limit.
    let resources = container.resources.as_ref();
    let requests = resources
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get(resource));
    let limits = resources
        .and_then(|r| r.limits.as_ref())
        .and_then(|r| r.get(resource));
    count(requests.or(limits))
}

/// Whether the pod still holds what it requested: not Succeeded, not Failed.
pub fn holds_resources(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The pod's effective request for `resource`, by Kubernetes' rule: the larger of the
/// largest init container's request and the sum of the app containers', plus overhead.
/// (Sidecars, init containers with `restartPolicy: Always`, run beside the app containers
/// and are added to the sum.)
pub fn effective_request(pod: &Pod, resource: &str) -> i64 {
    let Some(spec) = pod.spec.as_ref() else {
        return 0;
    };
    let apps: i64 = spec
        .containers
        .iter()
        .map(|c| container_request(c, resource))
        .sum();
    let mut sidecars = 0;
    let mut largest_init = 0;
    for init in spec.init_containers.iter().flatten() {
        let request = container_request(init, resource);
        if init.restart_policy.as_deref() == Some("Always") {
            sidecars += request;
        } else {
            // An init container runs after the sidecars declared before it have started.
            largest_init = largest_init.max(request + sidecars);
        }
    }
    let overhead = count(spec.overhead.as_ref().and_then(|o| o.get(resource)));
    (apps + sidecars).max(largest_init) + overhead
}

/// Every GPU-like resource a node offers: `nvidia.com/gpu` and each MIG profile.
fn gpu_resources(node: &Node) -> BTreeMap<String, i64> {
    let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
    allocatable
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.as_str() == GPU || name.starts_with(MIG_PREFIX))
        .map(|(name, q)| (name.clone(), count(Some(q))))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

fn health(node: &Node) -> NodeHealth {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    let status_of = |kind: &str| {
        conditions
            .into_iter()
            .flatten()
            .find(|c| c.type_ == kind)
            .map(|c| c.status.clone())
    };
    let pressure = ["MemoryPressure", "DiskPressure", "PIDPressure"]
        .into_iter()
        .filter(|kind| status_of(kind).as_deref() == Some("True"))
        .map(str::to_string)
        .collect();
    NodeHealth {
        ready: status_of("Ready").as_deref() == Some("True"),
        cordoned: node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
        pressure,
    }
}

/// One node's row: its GPUs by resource, what its pods hold, and what is free. Nodes
/// without GPU resources give `None`.
pub fn node_row<'a>(node: &Node, pods: impl IntoIterator<Item = &'a Pod>) -> Option<GpuNodeRow> {
    let resources = gpu_resources(node);
    if resources.is_empty() {
        return None;
    }
    let name = node.metadata.name.clone()?;
    let holding: Vec<&Pod> = pods
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str()))
        .filter(|p| holds_resources(p))
        .collect();
    let allocated: BTreeMap<String, i64> = resources
        .keys()
        .map(|resource| {
            let sum = holding.iter().map(|p| effective_request(p, resource)).sum();
            (resource.clone(), sum)
        })
        .collect();
    let total: i64 = resources.values().sum();
    let used: i64 = allocated.values().sum();
    Some(GpuNodeRow {
        name,
        model: label(node, "nvidia.com/gpu.product")
            .unwrap_or("unknown")
            .to_string(),
        gpu_memory_mib: label(node, "nvidia.com/gpu.memory").and_then(|m| m.parse().ok()),
        physical_gpus: label(node, "nvidia.com/gpu.count").and_then(|c| c.parse().ok()),
        replicas: label(node, "nvidia.com/gpu.replicas").and_then(|r| r.parse().ok()),
        allocatable: total,
        allocated: used,
        free: (total - used).max(0),
        resources: resources
            .iter()
            .map(|(resource, n)| (resource.clone(), (*n, allocated[resource])))
            .collect(),
        health: health(node),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn gpu_pod(node: &str, phase: &str, gpus: &str) -> Pod {
        pod(json!({
            "metadata": { "name": format!("p-{gpus}-{phase}") },
            "spec": { "nodeName": node, "containers": [
                { "name": "a", "resources": { "limits": { "nvidia.com/gpu": gpus } } }
            ] },
            "status": { "phase": phase }
        }))
    }

    fn node(allocatable: serde_json::Value, labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": { "name": "n1", "labels": labels },
            "status": {
                "allocatable": allocatable,
                "conditions": [{ "type": "Ready", "status": "True" }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn terminated_pods_hold_nothing() {
        let h100 = node(
            json!({ "nvidia.com/gpu": "8" }),
            json!({ "nvidia.com/gpu.product": "H100" }),
        );
        let pods = [
            gpu_pod("n1", "Running", "2"),
            gpu_pod("n1", "Pending", "1"),
            gpu_pod("n1", "Succeeded", "4"),
            gpu_pod("n1", "Failed", "4"),
            gpu_pod("other", "Running", "8"),
        ];
        let row = node_row(&h100, &pods).unwrap();
        assert_eq!((row.allocatable, row.allocated, row.free), (8, 3, 5));
        assert_eq!(row.model, "H100");
    }

    #[test]
    fn the_effective_request_follows_the_kubernetes_rule() {
        // max(largest init = 3, apps 1 + 1 = 2) + overhead 1 = 4
        let p = pod(json!({
            "spec": {
                "initContainers": [
                    { "name": "i1", "resources": { "limits": { "nvidia.com/gpu": "3" } } },
                    { "name": "i2", "resources": { "requests": { "nvidia.com/gpu": "1" } } }
                ],
                "containers": [
                    { "name": "a", "resources": { "limits": { "nvidia.com/gpu": "1" } } },
                    { "name": "b", "resources": { "requests": { "nvidia.com/gpu": "1" }, "limits": { "nvidia.com/gpu": "1" } } }
                ],
                "overhead": { "nvidia.com/gpu": "1" }
            }
        }));
        assert_eq!(effective_request(&p, GPU), 4);
        // A sidecar runs beside the apps: apps 2 + sidecar 1 = 3 > later init 2 + sidecar 1.
        let s = pod(json!({
            "spec": {
                "initContainers": [
                    { "name": "side", "restartPolicy": "Always", "resources": { "limits": { "nvidia.com/gpu": "1" } } },
                    { "name": "i", "resources": { "limits": { "nvidia.com/gpu": "2" } } }
                ],
                "containers": [{ "name": "a", "resources": { "limits": { "nvidia.com/gpu": "2" } } }]
            }
        }));
        assert_eq!(effective_request(&s, GPU), 3);
        let none = pod(json!({ "spec": { "containers": [{ "name": "a" }] } }));
        assert_eq!(effective_request(&none, GPU), 0);
    }

    #[test]
    fn mig_profiles_are_counted_each_on_their_own() {
        let mig = node(
            json!({ "nvidia.com/mig-1g.10gb": "16", "nvidia.com/mig-3g.40gb": "8", "cpu": "96" }),
            json!({ "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/mig.strategy": "mixed" }),
        );
        let slice = pod(json!({
            "spec": { "nodeName": "n1", "containers": [
                { "name": "a", "resources": { "limits": { "nvidia.com/mig-3g.40gb": "2" } } }
            ] },
            "status": { "phase": "Running" }
        }));
        let row = node_row(&mig, [&slice]).unwrap();
        assert_eq!(row.resources["nvidia.com/mig-1g.10gb"], (16, 0));
        assert_eq!(row.resources["nvidia.com/mig-3g.40gb"], (8, 2));
        assert_eq!((row.allocatable, row.allocated, row.free), (24, 2, 22));
    }

    #[test]
    fn time_sliced_replicas_are_schedulable_gpus() {
        let l4 = node(
            json!({ "nvidia.com/gpu": "16" }),
            json!({ "nvidia.com/gpu.product": "NVIDIA-L4", "nvidia.com/gpu.count": "4", "nvidia.com/gpu.replicas": "4" }),
        );
        let row = node_row(&l4, [&gpu_pod("n1", "Running", "1")]).unwrap();
        assert_eq!((row.physical_gpus, row.replicas), (Some(4), Some(4)));
        assert_eq!((row.allocatable, row.free), (16, 15));
    }

    #[test]
    fn nodes_without_gpus_or_labels_are_handled() {
        let cpu = node(json!({ "cpu": "32" }), json!({}));
        assert!(node_row(&cpu, []).is_none());
        let unlabeled = node(json!({ "nvidia.com/gpu": "2" }), json!({}));
        let row = node_row(&unlabeled, []).unwrap();
        assert_eq!(row.model, "unknown");
        assert_eq!(row.gpu_memory_mib, None);
        assert!(row.health.ready && !row.health.cordoned);
        let odd = node(json!({ "nvidia.com/gpu": "not a number" }), json!({}));
        assert!(node_row(&odd, []).is_none());
    }
}
