//! dcgm-exporter's series for the simulated fleet, in Prometheus' text format: the names
//! and label order of exporter 3.x/4.x's default counters (../shared/notes/operators.md §6).
//!
//! Values follow what holds each GPU and vary every `STEP` seconds; they are a pure function
//! of (seed, GPU, metric, time), so a test that knows the seed and the time knows them.

use std::fmt::Write;

use crate::fleet::{Gpu, Pattern};
use crate::noise::noise;

/// How often values change: dcgm-exporter's default collection interval is 30 s; faster
/// here so that charts move in a short demo.
pub const STEP: u64 = 15;

pub struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    /// The value for a GPU at a utilisation (0–100) and a noise draw (0–1); `None`: the
    /// series is absent for that GPU (GPU_UTIL on MIG instances, as on real hardware).
    value: fn(&Gpu, f64, f64) -> Option<f64>,
}

impl Metric {
    /// The GPU's value at `time`.
    pub fn at(&self, seed: u64, gpu: &Gpu, time: u64) -> Option<f64> {
        (self.value)(
            gpu,
            utilisation(seed, gpu, time),
            draw(seed, gpu, "other", time),
        )
    }
}

pub const METRICS: &[Metric] = &[
    Metric {
        name: "DCGM_FI_DEV_GPU_UTIL",
        help: "GPU utilization (in %).",
        value: |g, u, _| g.mig.is_none().then_some(u.round()),
    },
    Metric {
        name: "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        help: "Ratio of time the graphics engine is active.",
        value: |_, u, _| Some(u / 100.0),
    },
    Metric {
        name: "DCGM_FI_DEV_FB_USED",
        help: "Framebuffer memory used (in MiB).",
        value: |g, _, n| Some(memory_used(g, n).round()),
    },
    Metric {
        name: "DCGM_FI_DEV_FB_FREE",
        help: "Framebuffer memory free (in MiB).",
        value: |g, _, n| Some((g.memory_mib - memory_used(g, n)).round()),
    },
    Metric {
        name: "DCGM_FI_DEV_POWER_USAGE",
        help: "Power draw (in W).",
        value: |g, u, n| {
            g.mig
                .is_none()
                .then(|| g.tdp_watts * (0.1 + 0.85 * u / 100.0) + n * 3.0)
        },
    },
    Metric {
        name: "DCGM_FI_DEV_GPU_TEMP",
        help: "GPU temperature (in C).",
        value: |g, u, n| g.mig.is_none().then(|| (30.0 + 0.5 * u + 2.0 * n).round()),
    },
    Metric {
        name: "DCGM_FI_DEV_SM_CLOCK",
        help: "SM clock frequency (in MHz).",
        value: |g, u, _| g.mig.is_none().then(|| (210.0 + 17.7 * u).round()),
    },
    Metric {
        name: "DCGM_FI_DEV_XID_ERRORS",
        help: "Value of the last XID error encountered.",
        value: |g, _, _| g.mig.is_none().then_some(f64::from(g.xid)),
    },
];

/// Framebuffer in use: a loaded model keeps its memory even when it computes nothing
/// (that is what makes an allocated-but-idle GPU expensive).
fn memory_used(gpu: &Gpu, n: f64) -> f64 {
    let share = match gpu.holders.iter().map(|h| &h.pattern).next() {
        None => 0.005,
        Some(Pattern::Idle) => 0.35,
        Some(_) => 0.6 + 0.3 * n,
    };
    gpu.memory_mib * share
}

/// A stable, made-up UUID per physical GPU.
pub fn uuid(node: &str, index: u32) -> String {
    let a = crate::noise::hash(&[node.as_bytes(), &index.to_le_bytes(), b"uuid-a"]);
    let b = crate::noise::hash(&[node.as_bytes(), &index.to_le_bytes(), b"uuid-b"]);
    format!(
        "GPU-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// The GPU's utilisation (0–100) at `time`.
pub fn utilisation(seed: u64, gpu: &Gpu, time: u64) -> f64 {
    let n = draw(seed, gpu, "util", time);
    let level = |p: &Pattern| match p {
        Pattern::Busy => 75.0 + 20.0 * n,
        Pattern::Idle => 3.0 * n,
        Pattern::Percent(p) => (p + (n - 0.5) * 6.0).clamp(0.0, 100.0),
    };
    let held = gpu
        .holders
        .iter()
        .map(|h| level(&h.pattern))
        .fold(None, |sum: Option<f64>, v| Some(sum.unwrap_or(0.0) + v));
    held.map_or(2.0 * n, |v| v.min(100.0))
}

fn draw(seed: u64, gpu: &Gpu, metric: &str, time: u64) -> f64 {
    let instance = gpu.mig.as_ref().map_or(0, |m| m.instance);
    noise(&[
        &seed.to_le_bytes(),
        gpu.node.as_bytes(),
        &gpu.index.to_le_bytes(),
        &instance.to_le_bytes(),
        metric.as_bytes(),
        &(time / STEP).to_le_bytes(),
    ])
}

/// Label values as the text format wants them.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn labels(gpu: &Gpu) -> Vec<String> {
    let mut labels = vec![
        format!("gpu=\"{}\"", gpu.index),
        format!("UUID=\"{}\"", uuid(&gpu.node, gpu.index)),
        format!("pci_bus_id=\"00000000:{:02X}:00.0\"", 0x10 + gpu.index),
        format!("device=\"nvidia{}\"", gpu.index),
        format!("modelName=\"{}\"", escape(&gpu.model)),
    ];
    if let Some(mig) = &gpu.mig {
        labels.push(format!("GPU_I_PROFILE=\"{}\"", escape(&mig.profile)));
        labels.push(format!("GPU_I_ID=\"{}\"", mig.instance));
    }
    labels.push(format!("Hostname=\"{}\"", escape(&gpu.node)));
    labels.push(format!(
        "DCGM_FI_DRIVER_VERSION=\"{}\"",
        escape(&gpu.driver)
    ));
    labels
}

/// The label sets of a GPU's series, without braces: one for a free GPU, one per pod holding
/// it (with time-slicing, one series per pod sharing the GPU, as the exporter does).
pub fn series_labels(gpu: &Gpu) -> Vec<String> {
    let base = labels(gpu).join(",");
    if gpu.holders.is_empty() {
        return vec![base];
    }
    gpu.holders
        .iter()
        .map(|h| {
            format!(
                "{base},container=\"{}\",namespace=\"{}\",pod=\"{}\"",
                escape(&h.container),
                escape(&h.namespace),
                escape(&h.pod)
            )
        })
        .collect()
}

/// The exposition of every GPU's series at `time` (seconds since the epoch).
pub fn render(seed: u64, gpus: &[Gpu], time: u64) -> String {
    let mut out = String::new();
    let shown: Vec<(Vec<String>, f64, f64, &Gpu)> = gpus
        .iter()
        .map(|g| {
            (
                series_labels(g),
                utilisation(seed, g, time),
                draw(seed, g, "other", time),
                g,
            )
        })
        .collect();
    for metric in METRICS {
        let _ = writeln!(out, "# HELP {} {}", metric.name, metric.help);
        let _ = writeln!(out, "# TYPE {} gauge", metric.name);
        for (series, util, n, gpu) in &shown {
            let Some(value) = (metric.value)(gpu, *util, *n) else {
                continue;
            };
            for labels in series {
                let _ = writeln!(out, "{}{{{labels}}} {value}", metric.name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::tests::{node, pod};
    use crate::fleet::{fleet, Gpu};
    use k8s_openapi::api::core::v1::Pod;

    fn h100(pods: &[Pod]) -> Vec<Gpu> {
        let node = node(
            "gpu-h100-0",
            serde_json::json!({ "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" }),
            serde_json::json!({ "nvidia.com/gpu": "8" }),
        );
        fleet(&[node], pods)
    }

    fn value(text: &str, metric: &str, needle: &str) -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{metric}{{")) && l.contains(needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {metric} with {needle}"))
    }

    #[test]
    fn busy_idle_and_free_gpus_report_what_holds_them() {
        let gpus = h100(&[
            pod("busy", "gpu-h100-0", "nvidia.com/gpu", 1, None),
            pod("lazy", "gpu-h100-0", "nvidia.com/gpu", 1, Some("idle")),
            pod("half", "gpu-h100-0", "nvidia.com/gpu", 1, Some("50")),
        ]);
        for time in (1_795_000_000..1_795_003_600).step_by(300) {
            let text = render(7, &gpus, time);
            let util = |needle| value(&text, "DCGM_FI_DEV_GPU_UTIL", needle);
            assert!(util("pod=\"busy\"") >= 75.0, "{time}");
            assert!(util("pod=\"lazy\"") <= 3.0, "{time}");
            assert!((47.0..=53.0).contains(&util("pod=\"half\"")), "{time}");
            assert!(util("gpu=\"7\"") <= 2.0, "{time}");
            // The idle pod's memory stays allocated.
            assert!(value(&text, "DCGM_FI_DEV_FB_USED", "pod=\"lazy\"") > 20_000.0);
        }
    }

    #[test]
    fn the_same_seed_and_time_give_the_same_numbers() {
        let gpus = h100(&[pod("busy", "gpu-h100-0", "nvidia.com/gpu", 2, None)]);
        // 1,795,000,005 starts a 15 s step.
        let at = |seed, time| render(seed, &gpus, time);
        assert!(at(7, 1_795_000_005) == at(7, 1_795_000_005));
        assert!(
            at(7, 1_795_000_005) == at(7, 1_795_000_019),
            "one step, one value"
        );
        assert!(
            at(7, 1_795_000_005) != at(7, 1_795_000_020),
            "the next step"
        );
        assert!(at(7, 1_795_000_005) != at(8, 1_795_000_005), "another seed");
    }

    #[test]
    fn series_carry_the_exporters_labels_in_order() {
        let text = render(
            7,
            &h100(&[pod("busy", "gpu-h100-0", "nvidia.com/gpu", 1, None)]),
            0,
        );
        let line = text
            .lines()
            .find(|l| l.starts_with("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\""))
            .unwrap();
        let names: Vec<&str> = line
            .split(['{', ','])
            .skip(1)
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "gpu",
                "UUID",
                "pci_bus_id",
                "device",
                "modelName",
                "Hostname",
                "DCGM_FI_DRIVER_VERSION",
                "container",
                "namespace",
                "pod"
            ]
        );
        assert!(line.contains(&format!("UUID=\"{}\"", uuid("gpu-h100-0", 0))));
        assert!(
            uuid("gpu-h100-0", 0).len() == 40 && uuid("gpu-h100-0", 0) != uuid("gpu-h100-0", 1)
        );
    }

    #[test]
    fn mig_instances_report_the_engine_ratio_not_gpu_util() {
        let mig = node(
            "gpu-a100-mig-0",
            serde_json::json!({ "nvidia.com/gpu.count": "8" }),
            serde_json::json!({ "nvidia.com/mig-1g.10gb": "16" }),
        );
        let text = render(7, &fleet::<_, Pod>(&[mig], &[]), 0);
        assert!(!text.contains("DCGM_FI_DEV_GPU_UTIL{"));
        assert_eq!(text.matches("DCGM_FI_PROF_GR_ENGINE_ACTIVE{").count(), 16);
        assert!(text.contains("GPU_I_PROFILE=\"1g.10gb\",GPU_I_ID=\"2\""));
    }
}
