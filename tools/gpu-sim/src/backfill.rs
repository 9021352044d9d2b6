//! `gantry-gpu-sim backfill`: a made-up fleet's dcgm-exporter history as OpenMetrics text,
//! for `promtool tsdb create-blocks-from openmetrics`. The metrics benchmark loads 7 days of
//! 5,000 GPUs this way; a live Prometheus would need a week to gather them.
//!
//!   gantry-gpu-sim backfill --nodes 625 --from SECS --to SECS [--interval 60] [--seed 1]
//!                           [--prefix bench-gpu-] [--job team-a/bench-train]
//!
//! Nodes `<prefix>0000`… have 8 H100s each. Every 8 nodes' GPUs are held by the 8 pods of one
//! 64-GPU job (`--job` holds the first 8 nodes, busy; the others are busy, at 40 % or idle in
//! turn), so the index has the pod labels a real fleet's series carry. Samples are every
//! `--interval` seconds from `--from` (inclusive) to `--to` (exclusive), and only of the four
//! metrics Gantry charts: each series is written whole before the next, as promtool reads it.

use std::io::{self, Write};

use anyhow::{bail, Context};

use crate::dcgm::{self, METRICS};
use crate::fleet::{Gpu, Holder, Pattern};
use crate::noise::hash;

const GPUS_PER_NODE: u32 = 8;
const CHARTED: [&str; 4] = [
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_GPU_TEMP",
];

struct Plan {
    nodes: u32,
    prefix: String,
    from: u64,
    to: u64,
    interval: u64,
    seed: u64,
    namespace: String,
    job: String,
}

fn plan(mut args: impl Iterator<Item = String>) -> anyhow::Result<Plan> {
    let mut plan = Plan {
        nodes: 625,
        prefix: "bench-gpu-".into(),
        from: 0,
        to: 0,
        interval: 60,
        seed: 1,
        namespace: "team-a".into(),
        job: "bench-train".into(),
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nodes" => plan.nodes = value.parse().context("--nodes")?,
            "--prefix" => plan.prefix = value,
            "--from" => plan.from = value.parse().context("--from")?,
            "--to" => plan.to = value.parse().context("--to")?,
            "--interval" => plan.interval = value.parse().context("--interval")?,
            "--seed" => plan.seed = value.parse().context("--seed")?,
            "--job" => {
                let (namespace, job) = value.split_once('/').context("--job is NAMESPACE/NAME")?;
                (plan.namespace, plan.job) = (namespace.into(), job.into());
            }
            _ => bail!("unknown option {flag}"),
        }
    }
    if plan.from >= plan.to {
        bail!("--from must be before --to (seconds since the epoch)");
    }
    if plan.interval == 0 {
        bail!("--interval must be at least 1 second");
    }
    Ok(plan)
}

/// A pod name as the Job controller makes it for an Indexed Job: `<job>-<index>-<5 random>`.
fn pod_name(job: &str, index: u32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = hash(&[job.as_bytes(), &index.to_le_bytes()]);
    let suffix: String = (0..5)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect();
    format!("{job}-{index}-{suffix}")
}

fn fleet(plan: &Plan) -> Vec<Gpu> {
    let mut gpus = Vec::new();
    for n in 0..plan.nodes {
        let group = n / GPUS_PER_NODE;
        let (namespace, job, pattern) = match group {
            0 => (plan.namespace.clone(), plan.job.clone(), Pattern::Busy),
            g => (
                format!("team-{}", (b'a' + (g % 4) as u8) as char),
                format!("fleet-{g:03}"),
                [Pattern::Busy, Pattern::Percent(40.0), Pattern::Idle][g as usize % 3].clone(),
            ),
        };
        let holder = Holder {
            namespace,
            pod: pod_name(&job, n % GPUS_PER_NODE),
            container: "train".into(),
            pattern,
        };
        for index in 0..GPUS_PER_NODE {
            gpus.push(Gpu {
                node: format!("{}{n:04}", plan.prefix),
                index,
                model: "NVIDIA H100 80GB HBM3".into(),
                driver: "550.54.15".into(),
                memory_mib: 81_559.0,
                tdp_watts: 700.0,
                mig: None,
                holders: vec![holder.clone()],
                xid: 0,
            });
        }
    }
    gpus
}

fn write(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    let gpus = fleet(plan);
    for metric in METRICS.iter().filter(|m| CHARTED.contains(&m.name)) {
        writeln!(out, "# HELP {} {}", metric.name, metric.help)?;
        writeln!(out, "# TYPE {} gauge", metric.name)?;
        for gpu in &gpus {
            for labels in dcgm::series_labels(gpu) {
                for time in (plan.from..plan.to).step_by(plan.interval as usize) {
                    if let Some(value) = metric.at(plan.seed, gpu, time) {
                        writeln!(out, "{}{{{labels}}} {value} {time}", metric.name)?;
                    }
                }
            }
        }
    }
    writeln!(out, "# EOF")
}

/// Writes the plan `args` describe to standard output.
pub fn main(args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let plan = plan(args)?;
    let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
    write(&plan, &mut out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: &[&str]) -> String {
        let plan = plan(args.iter().map(|a| a.to_string())).unwrap();
        let mut out = Vec::new();
        write(&plan, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_series_is_written_whole_with_timestamps_and_ends_with_eof() {
        let text = text(&["--nodes", "9", "--from", "1000", "--to", "1300"]);
        assert!(text.ends_with("# EOF\n"));
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        // 9 nodes × 8 GPUs × 4 metrics × 5 samples.
        assert_eq!(samples.len(), 9 * 8 * 4 * 5);
        let first = samples[0];
        assert!(
            first.starts_with("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\""),
            "{first}"
        );
        assert!(first.contains("Hostname=\"bench-gpu-0000\""), "{first}");
        assert!(
            first.contains("namespace=\"team-a\",pod=\"bench-train-0-"),
            "{first}"
        );
        assert!(first.ends_with(" 1000"), "{first}");
        assert!(samples[4].ends_with(" 1240") && samples[5].ends_with(" 1000"));
        // The ninth node belongs to another job, in another namespace.
        assert!(text.contains("Hostname=\"bench-gpu-0008\""));
        assert!(text.contains("pod=\"fleet-001-0-"));
    }

    #[test]
    fn pod_names_look_like_the_job_controllers() {
        let name = pod_name("bench-train", 3);
        let suffix = name.strip_prefix("bench-train-3-").unwrap();
        assert_eq!(suffix.len(), 5);
        assert!(suffix
            .bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)));
        assert_ne!(pod_name("bench-train", 3), pod_name("bench-train", 4));
    }

    #[test]
    fn bad_plans_are_refused_by_flag() {
        let refused = |args: &[&str]| plan(args.iter().map(|a| a.to_string())).err().unwrap();
        assert!(refused(&["--from", "5", "--to", "5"])
            .to_string()
            .contains("--from"));
        assert!(refused(&["--job", "x"]).to_string().contains("--job"));
        assert!(refused(&["--nodes"])
            .to_string()
            .contains("--nodes needs a value"));
    }
}
