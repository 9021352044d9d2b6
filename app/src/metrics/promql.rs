//! The PromQL Gantry sends. Only names Gantry chose and label values it escaped ever reach
//! a query: a node name is checked as a Kubernetes name before it gets here, and is quoted
//! by [`quote`] anyway.

/// Which label names the node in dcgm-exporter's series: `Hostname` up to 4.8.2, `hostname`
/// after (../shared/notes/operators.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostLabel {
    Hostname,
    Lowercase,
}

impl HostLabel {
    pub fn name(self) -> &'static str {
        match self {
            HostLabel::Hostname => "Hostname",
            HostLabel::Lowercase => "hostname",
        }
    }
}

/// A PromQL string literal: backslashes, quotes and newlines escaped.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What finds which label set the exporter uses: series with a lower-case `hostname`.
pub const DETECT_LOWERCASE: &str = r#"count(DCGM_FI_DEV_FB_USED{hostname!=""})"#;

/// A node chart: its id, title, unit and query.
pub struct NodeChart {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub query: String,
}

/// The node charts' ids, in the order [`node_charts`] gives them.
pub const NODE_CHARTS: [&str; 4] = ["utilisation", "memory", "power", "temperature"];

/// The node page's charts, one query each (four per page view). Per GPU and per MIG
/// instance, never per pod: a node's charts show no pod or namespace, so they need no
/// per-namespace filtering.
pub fn node_charts(host: HostLabel, node: &str) -> Vec<NodeChart> {
    let on = format!("{}={}", host.name(), quote(node));
    let by = "by (gpu, GPU_I_PROFILE, GPU_I_ID)";
    vec![
        NodeChart {
            id: "utilisation",
            title: "GPU utilisation",
            unit: "%",
            // MIG instances have no GPU_UTIL; their engine ratio stands in (`or` keeps
            // GPU_UTIL wherever both exist).
            query: format!(
                "max {by} (DCGM_FI_DEV_GPU_UTIL{{{on}}}) \
                 or max {by} (DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{on}}}) * 100"
            ),
        },
        NodeChart {
            id: "memory",
            title: "GPU memory used",
            unit: "MiB",
            query: format!("max {by} (DCGM_FI_DEV_FB_USED{{{on}}})"),
        },
        NodeChart {
            id: "power",
            title: "Power",
            unit: "W",
            query: format!("max by (gpu) (DCGM_FI_DEV_POWER_USAGE{{{on}}})"),
        },
        NodeChart {
            id: "temperature",
            title: "Temperature",
            unit: "°C",
            query: format!("max by (gpu) (DCGM_FI_DEV_GPU_TEMP{{{on}}})"),
        },
    ]
}

/// GPUs held by a pod that were never above `percent` over the last `minutes`, and held by
/// it already when those minutes began (a pod that just started is not idle yet), per
/// (namespace, pod, node, GPU): the overview's "allocated but idle" table. The value is the
/// GPU's highest utilisation in the window.
pub fn idle_gpus(host: HostLabel, percent: u32, minutes: u32) -> String {
    let by = format!("by (namespace, pod, {}, gpu)", host.name());
    let held = r#"DCGM_FI_DEV_GPU_UTIL{pod!=""}"#;
    format!(
        "max {by} (max_over_time({held}[{minutes}m])) < {percent} \
         and max {by} ({held} offset {minutes}m)"
    )
}

/// A series' name from its labels: "GPU 3", or "GPU 0 · 1g.10gb #2" for a MIG instance.
pub fn series_name(labels: &std::collections::HashMap<String, String>) -> String {
    let gpu = labels.get("gpu").map_or("?", String::as_str);
    match (labels.get("GPU_I_PROFILE"), labels.get("GPU_I_ID")) {
        (Some(profile), Some(id)) if !profile.is_empty() => {
            format!("GPU {gpu} · {profile} #{id}")
        }
        _ => format!("GPU {gpu}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_cannot_end_their_string() {
        assert_eq!(quote("gpu-h100-0"), r#""gpu-h100-0""#);
        assert_eq!(
            quote(r#"a"} or vector(1) or {x=""#),
            r#""a\"} or vector(1) or {x=\"""#
        );
        assert_eq!(quote("a\\\nb"), r#""a\\\nb""#);
    }

    #[test]
    fn node_charts_select_the_node_by_the_detected_label() {
        let charts = node_charts(HostLabel::Lowercase, "gpu-a100-0");
        let ids: Vec<&str> = charts.iter().map(|c| c.id).collect();
        assert_eq!(ids, NODE_CHARTS);
        assert!(
            charts
                .iter()
                .all(|c| c.query.contains(r#"hostname="gpu-a100-0""#)
                    && !c.query.contains("Hostname"))
        );
        assert!(charts[0].query.contains("DCGM_FI_PROF_GR_ENGINE_ACTIVE"));
        let idle = idle_gpus(HostLabel::Hostname, 5, 30);
        assert!(
            idle.contains("[30m])) < 5 and") && idle.contains("offset 30m"),
            "{idle}"
        );
    }

    #[test]
    fn series_are_named_by_gpu_and_mig_instance() {
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(series_name(&labels(&[("gpu", "3")])), "GPU 3");
        assert_eq!(
            series_name(&labels(&[
                ("gpu", "0"),
                ("GPU_I_PROFILE", "1g.10gb"),
                ("GPU_I_ID", "2")
            ])),
            "GPU 0 · 1g.10gb #2"
        );
    }
}
