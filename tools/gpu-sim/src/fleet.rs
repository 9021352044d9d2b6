//! The fleet as the simulator sees it: every GPU (or MIG instance) of every node that has
//! GPUs, and the pods holding each, derived from Node and Pod objects alone, as the device
//! plugin would have handed them out.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};

/// On a pod: how busy its GPUs are. `busy` (the default), `idle` (allocated and doing
/// nothing, what the overview's "allocated but idle" table finds), or a percentage.
pub const PATTERN: &str = "gantry.dev/gpu-pattern";
/// On a node: the XID error its GPU 0 reports (e.g. "79", fallen off the bus).
pub const XID: &str = "gantry.dev/gpu-xid";

const WHOLE: &str = "nvidia.com/gpu";
const MIG_PREFIX: &str = "nvidia.com/mig-";

#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Busy,
    Idle,
    Percent(f64),
}

impl Pattern {
    fn of(pod: &Pod) -> Pattern {
        let value = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PATTERN))
            .map(|v| v.trim().to_ascii_lowercase());
        match value.as_deref() {
            Some("idle") => Pattern::Idle,
            Some(v) => v
                .trim_end_matches('%')
                .parse::<f64>()
                .map(|p| Pattern::Percent(p.clamp(0.0, 100.0)))
                .unwrap_or(Pattern::Busy),
            None => Pattern::Busy,
        }
    }
}

/// A pod holding (part of) a GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub pattern: Pattern,
}

/// A MIG instance's identity on its parent GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Mig {
    pub profile: String,
    pub instance: u32,
}

/// One GPU, or one MIG instance of a GPU, as dcgm-exporter reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Gpu {
    pub node: String,
    pub index: u32,
    pub model: String,
    pub driver: String,
    pub memory_mib: f64,
    pub tdp_watts: f64,
    pub mig: Option<Mig>,
    /// Several with time-slicing; none when free.
    pub holders: Vec<Holder>,
    pub xid: u32,
}

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

fn number(node: &Node, key: &str) -> Option<u32> {
    label(node, key).and_then(|v| v.parse().ok())
}

/// Allocatable GPU-like resources: `nvidia.com/gpu` and `nvidia.com/mig-*`.
fn allocatable(node: &Node) -> BTreeMap<String, u32> {
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.as_str() == WHOLE || name.starts_with(MIG_PREFIX))
        .filter_map(|(name, q)| Some((name.clone(), q.0.parse().ok()?)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// What a pod asks of `resource`, and the first container that asks.
fn request(pod: &Pod, resource: &str) -> Option<(u32, String)> {
    let spec = pod.spec.as_ref()?;
    let mut total = 0;
    let mut first = None;
    for container in &spec.containers {
        let r = container.resources.as_ref();
        let asked = [
            r.and_then(|r| r.limits.as_ref()),
            r.and_then(|r| r.requests.as_ref()),
        ]
        .into_iter()
        .flatten()
        .find_map(|m| m.get(resource))
        .and_then(|q| q.0.parse::<u32>().ok())
        .unwrap_or(0);
        if asked > 0 {
            total += asked;
            first.get_or_insert_with(|| container.name.clone());
        }
    }
    first.map(|c| (total, c))
}

/// GFD writes the product with dashes for spaces; dcgm-exporter reports the driver's name.
/// (The real name keeps some dashes, e.g. "NVIDIA A100-SXM4-80GB"; close enough for a demo.)
fn model_name(product: &str) -> String {
    product.replace('-', " ")
}

fn tdp_watts(model: &str) -> f64 {
    match model {
        m if m.contains("H100") => 700.0,
        m if m.contains("A100") => 400.0,
        m if m.contains("L4") => 72.0,
        _ => 300.0,
    }
}

/// Every GPU of `node`, with the pods of `pods` bound to it as holders, handed out in the
/// pods' creation order (older pods first, as the device plugin saw them arrive).
pub fn gpus_of(node: &Node, pods: &[&Pod]) -> Vec<Gpu> {
    let Some(name) = node.metadata.name.clone() else {
        return Vec::new();
    };
    let resources = allocatable(node);
    if resources.is_empty() {
        return Vec::new();
    }
    let model = model_name(label(node, "nvidia.com/gpu.product").unwrap_or("NVIDIA GPU"));
    let driver = match (
        label(node, "nvidia.com/cuda.driver.major"),
        label(node, "nvidia.com/cuda.driver.minor"),
        label(node, "nvidia.com/cuda.driver.rev"),
    ) {
        (Some(a), Some(b), Some(c)) => format!("{a}.{b}.{c}"),
        _ => "550.90.07".to_string(),
    };
    let xid = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(XID))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut pods: Vec<&Pod> = pods.to_vec();
    pods.sort_by_key(|p| {
        (
            p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            p.metadata.namespace.clone(),
            p.metadata.name.clone(),
        )
    });
    let physical = number(node, "nvidia.com/gpu.count").unwrap_or(8).max(1);
    let gpu = |index: u32, memory_mib: f64, mig: Option<Mig>| Gpu {
        node: name.clone(),
        index,
        model: model.clone(),
        driver: driver.clone(),
        memory_mib,
        tdp_watts: tdp_watts(&model),
        mig,
        holders: Vec::new(),
        xid: if index == 0 { xid } else { 0 },
    };
    let mut gpus = Vec::new();
    let mut next_instance = vec![1u32; physical as usize];
    for (resource, count) in resources {
        let first = gpus.len();
        if resource == WHOLE {
            // Time-slicing advertises each physical GPU `replicas` times.
            let replicas = number(node, "nvidia.com/gpu.replicas").unwrap_or(1).max(1);
            let memory = f64::from(number(node, "nvidia.com/gpu.memory").unwrap_or(81920));
            let units = count;
            let physical = units.div_ceil(replicas);
            gpus.extend((0..physical).map(|i| gpu(i, memory, None)));
            hand_out(&mut gpus[first..], &pods, &resource, |unit| {
                (unit / replicas) as usize
            });
        } else {
            let profile = resource.trim_start_matches(MIG_PREFIX).to_string();
            let memory = number(node, &format!("{resource}.memory")).unwrap_or(9728);
            for i in 0..count {
                let parent = i % physical;
                let instance = next_instance[parent as usize];
                next_instance[parent as usize] += 1;
                let mig = Mig {
                    profile: profile.clone(),
                    instance,
                };
                gpus.push(gpu(parent, f64::from(memory), Some(mig)));
            }
            hand_out(&mut gpus[first..], &pods, &resource, |unit| unit as usize);
        }
    }
    gpus
}

/// Hands `resource` out to the pods asking for it, unit by unit; `slot` says which of
/// `gpus` a unit lives on.
fn hand_out(gpus: &mut [Gpu], pods: &[&Pod], resource: &str, slot: impl Fn(u32) -> usize) {
    let mut unit = 0;
    for pod in pods {
        let Some((asked, container)) = request(pod, resource) else {
            continue;
        };
        let holder = Holder {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            pod: pod.metadata.name.clone().unwrap_or_default(),
            container,
            pattern: Pattern::of(pod),
        };
        for _ in 0..asked {
            if let Some(gpu) = gpus.get_mut(slot(unit)) {
                if !gpu.holders.contains(&holder) {
                    gpu.holders.push(holder.clone());
                }
            }
            unit += 1;
        }
    }
}

/// Whether `pod` holds what it was given: bound, and not finished.
pub fn holds(pod: &Pod) -> bool {
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    bound && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// Every GPU of the fleet, node by node in name order. Takes the watch stores' shared
/// objects as they are (no copy per scrape) or plain ones.
pub fn fleet<N: Borrow<Node>, P: Borrow<Pod>>(nodes: &[N], pods: &[P]) -> Vec<Gpu> {
    let mut on_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for pod in pods.iter().map(Borrow::borrow).filter(|p| holds(p)) {
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            on_node.entry(node).or_default().push(pod);
        }
    }
    let mut nodes: Vec<&Node> = nodes.iter().map(Borrow::borrow).collect();
    nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    nodes
        .into_iter()
        .flat_map(|node| {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            gpus_of(node, on_node.get(name).map_or(&[][..], Vec::as_slice))
        })
        .collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn node(name: &str, labels: serde_json::Value, allocatable: serde_json::Value) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": labels },
            "status": { "allocatable": allocatable }
        }))
        .unwrap()
    }

    pub fn pod(name: &str, node: &str, resource: &str, n: u32, pattern: Option<&str>) -> Pod {
        let annotations = pattern.map(|p| serde_json::json!({ PATTERN: p }));
        serde_json::from_value(serde_json::json!({
            "metadata": { "namespace": "team-a", "name": name, "annotations": annotations,
                "creationTimestamp": format!("2026-12-01T00:00:0{}Z", name.len() % 10) },
            "spec": { "nodeName": node, "containers": [
                { "name": "sidecar" },
                { "name": "trainer", "resources": { "limits": { resource: n.to_string() } } }
            ] },
            "status": { "phase": "Running" }
        }))
        .unwrap()
    }

    #[test]
    fn whole_gpus_go_to_pods_in_order_and_the_rest_are_free() {
        let h100 = node(
            "gpu-h100-0",
            serde_json::json!({ "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" }),
            serde_json::json!({ "nvidia.com/gpu": "8", "cpu": "96" }),
        );
        let pods = [
            pod("a", "gpu-h100-0", WHOLE, 3, None),
            pod("bb", "gpu-h100-0", WHOLE, 2, Some("idle")),
        ];
        let gpus = fleet(&[h100], &pods);
        assert_eq!(gpus.len(), 8);
        assert_eq!(gpus[0].model, "NVIDIA H100 80GB HBM3");
        let held: Vec<_> = gpus
            .iter()
            .map(|g| g.holders.first().map(|h| h.pod.as_str()))
            .collect();
        assert_eq!(
            held,
            [
                Some("a"),
                Some("a"),
                Some("a"),
                Some("bb"),
                Some("bb"),
                None,
                None,
                None
            ]
        );
        assert_eq!(gpus[3].holders[0].pattern, Pattern::Idle);
        assert_eq!(gpus[0].holders[0].container, "trainer");
    }

    #[test]
    fn time_slicing_shares_a_physical_gpu_and_mig_instances_are_separate() {
        let l4 = node(
            "gpu-l4-0",
            serde_json::json!({ "nvidia.com/gpu.replicas": "4", "nvidia.com/gpu.count": "4" }),
            serde_json::json!({ "nvidia.com/gpu": "16" }),
        );
        let pods = [
            pod("a", "gpu-l4-0", WHOLE, 1, None),
            pod("bb", "gpu-l4-0", WHOLE, 1, Some("40")),
        ];
        let gpus = fleet(&[l4], &pods);
        assert_eq!(gpus.len(), 4);
        assert_eq!(gpus[0].holders.len(), 2);
        assert_eq!(gpus[0].holders[1].pattern, Pattern::Percent(40.0));

        let mig = node(
            "gpu-a100-mig-0",
            serde_json::json!({ "nvidia.com/gpu.count": "8" }),
            serde_json::json!({ "nvidia.com/mig-1g.10gb": "16", "nvidia.com/mig-3g.40gb": "8" }),
        );
        let pods = [pod(
            "a",
            "gpu-a100-mig-0",
            "nvidia.com/mig-3g.40gb",
            1,
            None,
        )];
        let gpus = fleet(&[mig], &pods);
        assert_eq!(gpus.len(), 24);
        let held: Vec<_> = gpus.iter().filter(|g| !g.holders.is_empty()).collect();
        assert_eq!(held.len(), 1);
        let instance = held[0].mig.as_ref().unwrap();
        assert_eq!((held[0].index, instance.profile.as_str()), (0, "3g.40gb"));
        // GPU 0 has two 1g.10gb instances (1, 2) before its 3g.40gb one.
        assert_eq!(instance.instance, 3);
    }

    #[test]
    fn nodes_without_gpus_and_finished_pods_count_for_nothing() {
        let cpu = node(
            "cpu-0",
            serde_json::json!({}),
            serde_json::json!({ "cpu": "8" }),
        );
        assert!(fleet::<_, Pod>(&[cpu], &[]).is_empty());
        let mut done = pod("a", "n", WHOLE, 1, None);
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!holds(&done));
    }
}
