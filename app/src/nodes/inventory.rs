//! GPU arithmetic over Nodes and Pods (server only): what the caches keep of each, what each
//! node has, what its pods hold, and what is free. Allocated GPUs are not an API field; they
//! are summed here the way the scheduler counts requests.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{GpuNodeRow, NodeHealth, Owner};
use crate::names::{is_gpu_resource, GPU_PRODUCT};

/// A whole-number quantity (GPU counts are never fractional); anything else counts as 0.
fn count(quantity: &Quantity) -> i64 {
    quantity.0.trim().parse::<i64>().unwrap_or(0)
}

/// CPU in millicores, rounded up as Kubernetes does.
fn millicores(quantity: &Quantity) -> i64 {
    crate::quantity::parse(&quantity.0).map_or(0, |v| (v * 1000.0).ceil() as i64)
}

/// Memory in bytes.
fn bytes(quantity: &Quantity) -> i64 {
    crate::quantity::parse(&quantity.0).map_or(0, |v| v.ceil() as i64)
}

fn container_request(container: &Container, resource: &str, unit: fn(&Quantity) -> i64) -> i64 {
    // Extended resources may only be set as limits; then the request equals the limit.
    let resources = container.resources.as_ref();
    let requests = resources
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get(resource));
    let limits = resources
        .and_then(|r| r.limits.as_ref())
        .and_then(|r| r.get(resource));
    requests.or(limits).map_or(0, unit)
}

/// Whether the pod still holds what it requested: not Succeeded, not Failed.
pub fn holds_resources(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The pod's effective request for `resource` in `unit`, by Kubernetes' rule: the larger of
/// the largest init container's request and the sum of the app containers', plus overhead.
/// (Sidecars, init containers with `restartPolicy: Always`, run beside the app containers
/// and are added to the sum.)
fn effective(pod: &Pod, resource: &str, unit: fn(&Quantity) -> i64) -> i64 {
    let Some(spec) = pod.spec.as_ref() else {
        return 0;
    };
    let apps: i64 = spec
        .containers
        .iter()
        .map(|c| container_request(c, resource, unit))
        .sum();
    let mut sidecars = 0;
    let mut largest_init = 0;
    for init in spec.init_containers.iter().flatten() {
        let request = container_request(init, resource, unit);
        if init.restart_policy.as_deref() == Some("Always") {
            sidecars += request;
        } else {
            // An init container runs after the sidecars declared before it have started.
            largest_init = largest_init.max(request + sidecars);
        }
    }
    let overhead = spec
        .overhead
        .as_ref()
        .and_then(|o| o.get(resource))
        .map_or(0, unit);
    (apps + sidecars).max(largest_init) + overhead
}

/// The pod's effective request of a GPU-like resource (whole units).
pub fn effective_request(pod: &Pod, resource: &str) -> i64 {
    effective(pod, resource, count)
}

/// What the inventory keeps of a pod: a few hundred bytes instead of the whole object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    /// The node it is bound to; `None` while the scheduler has not placed it.
    pub node: Option<String>,
    /// The Job or Deployment (or other controller) it belongs to.
    pub owner: Option<Owner>,
    /// Effective requests of GPU-like resources, only those above 0.
    pub gpus: BTreeMap<String, i64>,
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    /// While unbound: the scheduler's latest reason (the `PodScheduled` condition carries the
    /// same message as its `FailedScheduling` event).
    pub unschedulable: Option<String>,
    /// Creation time, in seconds since the epoch.
    pub created: i64,
    /// Bound and running (phase `Running`): what makes its Job running, whatever the Job's
    /// own `status.ready` says.
    pub running: bool,
}

impl PodInfo {
    /// `None` for pods that hold nothing any more (Succeeded or Failed).
    pub fn from_pod(pod: &Pod) -> Option<PodInfo> {
        if !holds_resources(pod) {
            return None;
        }
        let spec = pod.spec.as_ref()?;
        let mut resources: Vec<&String> = Vec::new();
        for container in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            let r = container.resources.as_ref();
            for map in [
                r.and_then(|r| r.requests.as_ref()),
                r.and_then(|r| r.limits.as_ref()),
            ] {
                resources.extend(map.into_iter().flat_map(|m| m.keys()));
            }
        }
        resources.extend(spec.overhead.iter().flat_map(|o| o.keys()));
        let gpus = resources
            .into_iter()
            .filter(|name| is_gpu_resource(name))
            .map(|name| (name.clone(), effective(pod, name, count)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let node = spec.node_name.clone().filter(|n| !n.is_empty());
        let unschedulable = if node.is_none() {
            pod.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .map(|c| c.message.clone().or(c.reason.clone()).unwrap_or_default())
        } else {
            None
        };
        let running = node.is_some()
            && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        Some(PodInfo {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            node,
            owner: owner(pod),
            gpus,
            cpu_millis: effective(pod, "cpu", millicores),
            memory_bytes: effective(pod, "memory", bytes),
            unschedulable,
            created: pod
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(0, |t| t.0.as_second()),
            running,
        })
    }

    /// All GPU-like units the pod asks for.
    pub fn gpu_total(&self) -> i64 {
        self.gpus.values().sum()
    }
}

/// The pod's controller, with a Deployment's ReplicaSet named as the Deployment (its name is
/// the Deployment's plus `-<pod-template-hash>`).
fn owner(pod: &Pod) -> Option<Owner> {
    let reference = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))?;
    let hash = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("pod-template-hash"));
    if reference.kind == "ReplicaSet" {
        if let Some(deployment) = hash.and_then(|h| reference.name.strip_suffix(&format!("-{h}"))) {
            return Some(Owner {
                kind: "Deployment".into(),
                name: deployment.into(),
            });
        }
    }
    Some(Owner {
        kind: reference.kind.clone(),
        name: reference.name.clone(),
    })
}

/// What the inventory keeps of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The labels as the search reads them, `key=value` lines lower-cased once here rather
    /// than on every search; shared so that a search reads it outside the index's lock.
    pub label_text: Arc<str>,
    /// Allocatable GPU-like resources: `nvidia.com/gpu` and each MIG profile.
    pub gpus: BTreeMap<String, i64>,
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub health: NodeHealth,
    /// `key=value:Effect`, as `kubectl describe` writes them.
    pub taints: Vec<String>,
}

impl NodeInfo {
    pub fn from_node(node: &Node) -> Option<NodeInfo> {
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        let gpus = allocatable
            .into_iter()
            .flatten()
            .filter(|(name, _)| is_gpu_resource(name))
            .map(|(name, q)| (name.clone(), count(q)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let get = |name: &str| allocatable.and_then(|a| a.get(name));
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .map(|t| match &t.value {
                Some(value) => format!("{}={value}:{}", t.key, t.effect),
                None => format!("{}:{}", t.key, t.effect),
            })
            .collect();
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let label_text = labels
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect::<String>()
            .to_lowercase()
            .into();
        Some(NodeInfo {
            name: node.metadata.name.clone()?,
            labels,
            label_text,
            gpus,
            cpu_millis: get("cpu").map_or(0, millicores),
            memory_bytes: get("memory").map_or(0, bytes),
            health: health(node),
            taints,
        })
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
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

/// One node's row: its GPUs by resource, what its pods hold, and what is free. `pods` are
/// the pods bound to it; nodes without GPU resources give `None`.
pub fn node_row<'a>(
    node: &NodeInfo,
    pods: impl IntoIterator<Item = &'a PodInfo>,
) -> Option<GpuNodeRow> {
    if node.gpus.is_empty() {
        return None;
    }
    let mut allocated: BTreeMap<&str, i64> = node.gpus.keys().map(|r| (r.as_str(), 0)).collect();
    let (mut cpu, mut memory) = (0, 0);
    for pod in pods {
        for (resource, n) in &pod.gpus {
            if let Some(sum) = allocated.get_mut(resource.as_str()) {
                *sum += n;
            }
        }
        cpu += pod.cpu_millis;
        memory += pod.memory_bytes;
    }
    let total: i64 = node.gpus.values().sum();
    let used: i64 = allocated.values().sum();
    Some(GpuNodeRow {
        name: node.name.clone(),
        model: node.label(GPU_PRODUCT).unwrap_or("unknown").to_string(),
        family: node.label("nvidia.com/gpu.family").map(str::to_string),
        gpu_memory_mib: node
            .label("nvidia.com/gpu.memory")
            .and_then(|m| m.parse().ok()),
        physical_gpus: node
            .label("nvidia.com/gpu.count")
            .and_then(|c| c.parse().ok()),
        replicas: node
            .label("nvidia.com/gpu.replicas")
            .and_then(|r| r.parse().ok()),
        allocatable: total,
        allocated: used,
        free: (total - used).max(0),
        resources: node
            .gpus
            .iter()
            .map(|(resource, n)| (resource.clone(), (*n, allocated[resource.as_str()])))
            .collect(),
        cpu_millis: (node.cpu_millis, cpu),
        memory_bytes: (node.memory_bytes, memory),
        health: node.health.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::GPU;
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

    /// The row the index computes: the node and the pods bound to it that hold resources.
    fn row_of<'a>(node: &Node, pods: impl IntoIterator<Item = &'a Pod>) -> Option<GpuNodeRow> {
        let node = NodeInfo::from_node(node)?;
        let pods: Vec<PodInfo> = pods
            .into_iter()
            .filter_map(PodInfo::from_pod)
            .filter(|p| p.node.as_deref() == Some(node.name.as_str()))
            .collect();
        node_row(&node, &pods)
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
        let row = row_of(&h100, &pods).unwrap();
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
        let row = row_of(&mig, [&slice]).unwrap();
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
        let row = row_of(&l4, [&gpu_pod("n1", "Running", "1")]).unwrap();
        assert_eq!((row.physical_gpus, row.replicas), (Some(4), Some(4)));
        assert_eq!((row.allocatable, row.free), (16, 15));
    }

    #[test]
    fn nodes_without_gpus_or_labels_are_handled() {
        let cpu = node(json!({ "cpu": "32" }), json!({}));
        assert!(row_of(&cpu, []).is_none());
        let unlabeled = node(json!({ "nvidia.com/gpu": "2" }), json!({}));
        let row = row_of(&unlabeled, []).unwrap();
        assert_eq!(row.model, "unknown");
        assert_eq!(row.gpu_memory_mib, None);
        assert!(row.health.ready && !row.health.cordoned);
        let odd = node(json!({ "nvidia.com/gpu": "not a number" }), json!({}));
        assert!(row_of(&odd, []).is_none());
    }

    #[test]
    fn a_pod_keeps_its_owner_requests_and_the_schedulers_reason() {
        let waiting = pod(json!({
            "metadata": {
                "namespace": "team-a", "name": "chat-7d9f-x2",
                "labels": { "pod-template-hash": "7d9f" },
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "chat-7d9f", "uid": "u", "controller": true }]
            },
            "spec": { "containers": [{ "name": "a", "resources": {
                "requests": { "cpu": "1500m", "memory": "2Gi" },
                "limits": { "nvidia.com/gpu": "16" }
            } }] },
            "status": { "phase": "Pending", "conditions": [{ "type": "PodScheduled", "status": "False",
                "reason": "Unschedulable",
                "message": "0/14 nodes are available: 14 Insufficient nvidia.com/gpu." }] }
        }));
        let info = PodInfo::from_pod(&waiting).unwrap();
        assert_eq!(
            info.owner
                .as_ref()
                .map(|o| (o.kind.as_str(), o.name.as_str())),
            Some(("Deployment", "chat"))
        );
        assert_eq!(info.gpus[GPU], 16);
        assert_eq!((info.cpu_millis, info.memory_bytes), (1500, 2 << 30));
        assert_eq!(info.node, None);
        assert!(info
            .unschedulable
            .unwrap()
            .contains("Insufficient nvidia.com/gpu"));
        assert!(PodInfo::from_pod(&gpu_pod("n1", "Succeeded", "1")).is_none());
    }

    #[test]
    fn cpu_and_memory_requested_are_summed_per_node() {
        let n = node(
            json!({ "nvidia.com/gpu": "8", "cpu": "96", "memory": "1Ti" }),
            json!({}),
        );
        let p = |cpu: &str| {
            pod(json!({
                "spec": { "nodeName": "n1", "containers": [
                    { "name": "a", "resources": { "requests": { "cpu": cpu, "memory": "1Gi" } } }
                ] },
                "status": { "phase": "Running" }
            }))
        };
        let row = row_of(&n, &[p("250m"), p("2")]).unwrap();
        assert_eq!(row.cpu_millis, (96_000, 2_250));
        assert_eq!(row.memory_bytes, (1 << 40, 2 << 30));
        assert_eq!(row.free, 8);
    }
}
