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

/// Which labels name the pod holding a GPU: `pod`/`namespace` when Prometheus scrapes the
/// exporter with honorLabels; `exported_pod`/`exported_namespace` when it does not (its own
/// target labels win the names); `pod_name`/`pod_namespace` with `--use-old-namespace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodLabels {
    Plain,
    Exported,
    Old,
}

impl PodLabels {
    pub fn pod(self) -> &'static str {
        match self {
            PodLabels::Plain => "pod",
            PodLabels::Exported => "exported_pod",
            PodLabels::Old => "pod_name",
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            PodLabels::Plain => "namespace",
            PodLabels::Exported => "exported_namespace",
            PodLabels::Old => "pod_namespace",
        }
    }
}

/// The exporter's label set as detected: every query is written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub host: HostLabel,
    pub pods: PodLabels,
}

impl Dialect {
    /// Until detection has answered: dcgm-exporter 3.x–4.8 scraped with honorLabels.
    pub const DEFAULT: Dialect = Dialect {
        host: HostLabel::Hostname,
        pods: PodLabels::Plain,
    };

    /// As the pages name it.
    pub fn describe(self) -> String {
        let host = match self.host {
            HostLabel::Hostname => "dcgm-exporter 3.x–4.8 (Hostname)",
            HostLabel::Lowercase => "dcgm-exporter 4.8.3+ (hostname)",
        };
        format!(
            "{host}, pods as {}/{}",
            self.pods.namespace(),
            self.pods.pod()
        )
    }
}

/// What finds the label set: a count of the series carrying each variant's label.
pub const DETECT: [&str; 3] = [
    r#"count(DCGM_FI_DEV_FB_USED{hostname!=""})"#,
    r#"count(DCGM_FI_DEV_FB_USED{exported_pod!=""})"#,
    r#"count(DCGM_FI_DEV_FB_USED{pod_name!=""})"#,
];

/// The dialect from [`DETECT`]'s answers (whether each found series).
pub fn dialect_from(found: [bool; 3]) -> Dialect {
    Dialect {
        host: if found[0] {
            HostLabel::Lowercase
        } else {
            HostLabel::Hostname
        },
        pods: match found {
            [_, true, _] => PodLabels::Exported,
            [_, _, true] => PodLabels::Old,
            _ => PodLabels::Plain,
        },
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

/// A name as a regular expression matching only itself (Kubernetes names hold `.`).
fn regex_literal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() && c != '-' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `pod` is named as the Job controller names `job`'s pods (see [`job_selector`]).
pub fn is_pod_of(job: &str, pod: &str) -> bool {
    let Some(rest) = pod.strip_prefix(job).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let random = match rest.split_once('-') {
        Some((index, random)) if index.bytes().all(|b| b.is_ascii_digit()) && !index.is_empty() => {
            random
        }
        Some(_) => return false,
        None => rest,
    };
    random.len() == 5
        && random
            .bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

/// The series of a Job's pods: the Job controller names them `<job>-<5 random>` and, for an
/// Indexed Job, `<job>-<index>-<5 random>` (its random suffixes avoid vowels, so no word
/// made of them is a Job's name).
pub fn job_selector(dialect: Dialect, namespace: &str, job: &str) -> String {
    let pods = format!(
        "{}-([0-9]+-)?[bcdfghjklmnpqrstvwxz2456789]{{5}}",
        regex_literal(job)
    );
    format!(
        "{}={},{}=~{}",
        dialect.pods.namespace(),
        quote(namespace),
        dialect.pods.pod(),
        quote(&pods)
    )
}

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
pub fn node_charts(dialect: Dialect, node: &str) -> Vec<NodeChart> {
    let on = format!("{}={}", dialect.host.name(), quote(node));
    let by = "by (gpu, GPU_I_PROFILE, GPU_I_ID)";
    let mut charts = gpu_charts(&on, by);
    charts.extend([
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
    ]);
    charts
}

/// Utilisation and memory of the GPUs `on` selects, one series per group of `by`.
fn gpu_charts(on: &str, by: &str) -> Vec<NodeChart> {
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
    ]
}

/// The job charts' ids, in the order [`job_charts`] gives them.
pub const JOB_CHARTS: [&str; 2] = ["utilisation", "memory"];

/// A job's charts, one series per GPU (or MIG instance) of each of its pods; `selector` from
/// [`job_selector`].
pub fn job_charts(dialect: Dialect, selector: &str) -> Vec<NodeChart> {
    let by = format!("by ({}, gpu, GPU_I_PROFILE, GPU_I_ID)", dialect.pods.pod());
    gpu_charts(selector, &by)
}

/// A finished job's GPU use, evaluated at its end over its `seconds` of run time, sampled
/// every 15 s: GPU-hours held (GPUs reporting × time) and their mean utilisation.
pub fn job_use(selector: &str, seconds: u64) -> [String; 2] {
    let held = format!("count(DCGM_FI_DEV_FB_USED{{{selector}}})");
    let util = format!(
        "avg(DCGM_FI_DEV_GPU_UTIL{{{selector}}} or DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{selector}}} * 100)"
    );
    [
        format!("sum_over_time(({held})[{seconds}s:15s]) * 15 / 3600"),
        format!("avg_over_time(({util})[{seconds}s:15s])"),
    ]
}

/// What Gantry reads of a model server, per pod (`namespace` and `pod` as Prometheus' pod
/// discovery labels them): requests by status `code`, and their latency as a histogram in
/// seconds. Servers that name them otherwise (KServe's `request_predict_seconds`, TF
/// Serving's `:tensorflow:serving:…`) are mapped by a recording rule (README, Serving).
pub const SERVING_REQUESTS: &str = "model_requests_total";
pub const SERVING_LATENCY: &str = "model_request_duration_seconds";

/// The series of a Deployment's pods: they are named `<deployment>-<template hash>-<5
/// random>`, hash and suffix from the same alphabet as a Job's suffix, without `-`; so the
/// pods of a Deployment named `<deployment>-<word>` never match.
pub fn deployment_selector(namespace: &str, deployment: &str) -> String {
    let pods = format!(
        "{}-[bcdfghjklmnpqrstvwxz2456789]{{1,10}}-[bcdfghjklmnpqrstvwxz2456789]{{5}}",
        regex_literal(deployment)
    );
    format!("namespace={},pod=~{}", quote(namespace), quote(&pods))
}

/// The serving charts' ids, in the order [`service_charts`] gives them.
pub const SERVICE_CHARTS: [&str; 4] = ["requests", "latency", "errors", "replicas"];

/// A serving workload's charts, summed over its pods (no pod is named), rates over
/// `rate_secs`; `selector` from [`deployment_selector`].
pub fn service_charts(selector: &str, rate_secs: u64) -> Vec<NodeChart> {
    let named = |name: &str, query: String| {
        format!(r#"label_replace({query}, "series", "{name}", "", "")"#)
    };
    let requests =
        |extra: &str| format!("sum(rate({SERVING_REQUESTS}{{{selector}{extra}}}[{rate_secs}s]))");
    let quantile = |q: f64| {
        format!(
            "histogram_quantile({q}, sum by (le) \
             (rate({SERVING_LATENCY}_bucket{{{selector}}}[{rate_secs}s]))) * 1000"
        )
    };
    vec![
        NodeChart {
            id: "requests",
            title: "Requests",
            unit: "req/s",
            query: named("Requests", requests("")),
        },
        NodeChart {
            id: "latency",
            title: "Latency",
            unit: "ms",
            query: [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]
                .map(|(name, q)| named(name, quantile(q)))
                .join(" or "),
        },
        NodeChart {
            id: "errors",
            title: "Errors",
            // Not "%", which keeps a 0–100 scale: 1 % of errors would be a flat line.
            unit: "% of requests",
            query: named(
                "5xx",
                format!("{} / {} * 100", requests(r#",code=~"5..""#), requests("")),
            ),
        },
        NodeChart {
            id: "replicas",
            title: "Replicas serving",
            unit: "pods",
            query: named(
                "Pods",
                format!("count(count by (pod) ({SERVING_REQUESTS}{{{selector}}}))"),
            ),
        },
    ]
}

/// The fleet's GPUs over time, as three series: all of them, those allocated to a pod, and
/// those busy (at or above `percent`); one query. A GPU is a (node, gpu) pair, so a GPU
/// split into MIG instances counts once.
pub fn fleet(dialect: Dialect, percent: u32) -> String {
    let gpu = format!("by ({}, gpu)", dialect.host.name());
    let pod = dialect.pods.pod();
    let series = |name: &str, selector: String| {
        format!(r#"label_replace(count(count {gpu} ({selector})), "series", "{name}", "", "")"#)
    };
    [
        series("GPUs", "DCGM_FI_DEV_FB_USED".into()),
        series("Allocated", format!(r#"DCGM_FI_DEV_FB_USED{{{pod}!=""}}"#)),
        series(
            "Busy",
            format!(
                "DCGM_FI_DEV_GPU_UTIL >= {percent} or DCGM_FI_PROF_GR_ENGINE_ACTIVE >= {}",
                f64::from(percent) / 100.0
            ),
        ),
    ]
    .join(" or ")
}

/// GPUs held by a pod that were never above `percent` over the last `minutes`, and held by
/// it already when those minutes began (a pod that just started is not idle yet), per
/// (namespace, pod, node, GPU): the overview's "allocated but idle" table. The value is the
/// GPU's highest utilisation in the window.
pub fn idle_gpus(dialect: Dialect, percent: u32, minutes: u32) -> String {
    let (namespace, pod) = (dialect.pods.namespace(), dialect.pods.pod());
    let by = format!("by ({namespace}, {pod}, {}, gpu)", dialect.host.name());
    let held = format!(r#"DCGM_FI_DEV_GPU_UTIL{{{pod}!=""}}"#);
    format!(
        "max {by} (max_over_time({held}[{minutes}m])) < {percent} \
         and max {by} ({held} offset {minutes}m)"
    )
}

/// A series' name from its labels: "GPU 3", or "GPU 0 · 1g.10gb #2" for a MIG instance.
/// A job's series start with their pod ("trainer-0-x7k2p · GPU 1"); the fleet's carry
/// their own name in `series`.
pub fn series_name(labels: &std::collections::HashMap<String, String>) -> String {
    if let Some(name) = labels.get("series") {
        return name.clone();
    }
    let gpu = labels.get("gpu").map_or("?", String::as_str);
    let device = match (labels.get("GPU_I_PROFILE"), labels.get("GPU_I_ID")) {
        (Some(profile), Some(id)) if !profile.is_empty() => {
            format!("GPU {gpu} · {profile} #{id}")
        }
        _ => format!("GPU {gpu}"),
    };
    let pod = ["pod", "exported_pod", "pod_name"]
        .iter()
        .find_map(|l| labels.get(*l).filter(|p| !p.is_empty()));
    match pod {
        Some(pod) => format!("{pod} · {device}"),
        None => device,
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
        let lowercase = Dialect {
            host: HostLabel::Lowercase,
            pods: PodLabels::Exported,
        };
        let charts = node_charts(lowercase, "gpu-a100-0");
        let ids: Vec<&str> = charts.iter().map(|c| c.id).collect();
        assert_eq!(ids, NODE_CHARTS);
        assert!(
            charts
                .iter()
                .all(|c| c.query.contains(r#"hostname="gpu-a100-0""#)
                    && !c.query.contains("Hostname"))
        );
        assert!(charts[0].query.contains("DCGM_FI_PROF_GR_ENGINE_ACTIVE"));
        let idle = idle_gpus(lowercase, 5, 30);
        assert!(
            idle.contains("[30m])) < 5 and")
                && idle.contains("offset 30m")
                && idle.contains(r#"exported_pod!="""#)
                && idle.contains("by (exported_namespace, exported_pod, hostname, gpu)"),
            "{idle}"
        );
    }

    #[test]
    fn a_jobs_pods_are_matched_by_the_names_the_job_controller_gives() {
        let selector = job_selector(Dialect::DEFAULT, "team-a", "bert.v2");
        assert_eq!(
            selector,
            r#"namespace="team-a",pod=~"bert\\.v2-([0-9]+-)?[bcdfghjklmnpqrstvwxz2456789]{5}""#
        );
        let exported = Dialect {
            host: HostLabel::Hostname,
            pods: PodLabels::Exported,
        };
        assert!(job_selector(exported, "a", "b")
            .starts_with(r#"exported_namespace="a",exported_pod=~"#));
        assert_eq!(dialect_from([false, false, false]), Dialect::DEFAULT);
        assert!(is_pod_of("bert", "bert-x7k2p") && is_pod_of("bert", "bert-12-x7k2p"));
        assert!(!is_pod_of("bert", "bert-v2-x7k2p") && !is_pod_of("bert", "bert-aeiou"));
        assert_eq!(dialect_from([true, true, false]), exported_lowercase());
    }

    #[test]
    fn a_deployments_pods_are_matched_and_its_longer_named_neighbours_are_not() {
        let selector = deployment_selector("ml-serving", "iris-predictor");
        assert_eq!(
            selector,
            r#"namespace="ml-serving",pod=~"iris-predictor-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}""#
        );
        // PromQL anchors `=~` at both ends and speaks RE2, as the regex crate does.
        let pods = selector.split_once("pod=~").unwrap().1;
        let pods = regex::Regex::new(&format!("^(?:{})$", pods.trim_matches('"'))).unwrap();
        assert!(pods.is_match("iris-predictor-7d9f8b6c4-x7k2p"));
        assert!(!pods.is_match("iris-predictor-canary-7d9f8b6c4-x7k2p"));
        assert!(!pods.is_match("iris-predictor-x7k2p"));
        let charts = service_charts(&selector, 60);
        let ids: Vec<&str> = charts.iter().map(|c| c.id).collect();
        assert_eq!(ids, SERVICE_CHARTS);
        assert!(charts.iter().all(|c| c.query.contains(&selector)));
        assert_eq!(charts[1].query.matches("histogram_quantile").count(), 3);
        assert!(charts[2].query.contains(r#"code=~"5..""#) && charts[0].query.contains("[60s]"));
    }

    fn exported_lowercase() -> Dialect {
        Dialect {
            host: HostLabel::Lowercase,
            pods: PodLabels::Exported,
        }
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
            series_name(&labels(&[("gpu", "1"), ("pod", "train-x7k2p")])),
            "train-x7k2p · GPU 1"
        );
        assert_eq!(series_name(&labels(&[("series", "Busy")])), "Busy");
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
