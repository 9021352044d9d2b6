//! What Gantry keeps of a Job (server only), and where it stands as a person would say it.

use k8s_openapi::api::batch::v1::Job;

use super::JobPhase;

/// What Gantry keeps of a Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub phase: JobPhase,
    /// Why it failed (`BackoffLimitExceeded: …`), when it did.
    pub reason: Option<String>,
    /// GPU-like units each pod asks for, and which resource.
    pub gpus_per_pod: i64,
    pub gpu_resource: Option<String>,
    /// The `nvidia.com/gpu.product` it selects, if any.
    pub gpu_model: Option<String>,
    pub parallelism: i32,
    pub completions: i32,
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
}

fn seconds(time: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<i64> {
    time.map(|t| t.0.as_second())
}

/// The phase a person would name, and why it failed: conditions first (Complete, Failed,
/// Suspended), then whether any pod is ready.
pub fn phase(job: &Job) -> (JobPhase, Option<String>) {
    let status = job.status.as_ref();
    let condition = |kind: &str| {
        status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if condition("Complete").is_some() || condition("SuccessCriteriaMet").is_some() {
        return (JobPhase::Succeeded, None);
    }
    if let Some(failed) = condition("Failed").or_else(|| condition("FailureTarget")) {
        let reason = match (&failed.reason, &failed.message) {
            (Some(reason), Some(message)) => format!("{reason}: {message}"),
            (Some(text), None) | (None, Some(text)) => text.clone(),
            (None, None) => "failed".into(),
        };
        return (JobPhase::Failed, Some(reason));
    }
    let suspended = job.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false);
    if condition("Suspended").is_some() || suspended {
        return (JobPhase::Suspended, None);
    }
    if status.and_then(|s| s.ready).unwrap_or(0) > 0 {
        return (JobPhase::Running, None);
    }
    (JobPhase::Pending, None)
}

/// The phase as a person sees it once the pods are known: a Job the controller still calls
/// pending (its `status.ready` is 0 until readiness is reported, which kwok and images without
/// probes may never do) is running when one of its pods is bound and running.
pub fn with_pods(phase: JobPhase, a_pod_runs: bool) -> JobPhase {
    match phase {
        JobPhase::Pending if a_pod_runs => JobPhase::Running,
        other => other,
    }
}

impl JobInfo {
    pub fn from_job(job: &Job) -> JobInfo {
        let spec = job.spec.as_ref();
        let status = job.status.as_ref();
        let pod = spec.and_then(|s| s.template.spec.as_ref());
        let gpu = pod.into_iter().flat_map(|p| &p.containers).find_map(|c| {
            let resources = c.resources.as_ref()?;
            resources
                .limits
                .iter()
                .chain(resources.requests.iter())
                .flatten()
                .find(|(name, _)| name.starts_with("nvidia.com/"))
                .map(|(name, q)| {
                    (
                        name.clone(),
                        crate::quantity::parse(&q.0).unwrap_or(0.0) as i64,
                    )
                })
        });
        let (phase, reason) = phase(job);
        JobInfo {
            namespace: job.metadata.namespace.clone().unwrap_or_default(),
            name: job.metadata.name.clone().unwrap_or_default(),
            uid: job.metadata.uid.clone().unwrap_or_default(),
            created: seconds(job.metadata.creation_timestamp.as_ref()).unwrap_or(0),
            started: seconds(status.and_then(|s| s.start_time.as_ref())),
            finished: seconds(status.and_then(|s| s.completion_time.as_ref())).or_else(|| {
                // Failed Jobs have no completion time: the Failed condition's time is it.
                status
                    .and_then(|s| s.conditions.as_ref())
                    .into_iter()
                    .flatten()
                    .find(|c| c.type_ == "Failed" && c.status == "True")
                    .and_then(|c| seconds(c.last_transition_time.as_ref()))
            }),
            phase,
            reason,
            gpus_per_pod: gpu.as_ref().map_or(0, |(_, n)| *n),
            gpu_resource: gpu.map(|(name, _)| name),
            gpu_model: pod
                .and_then(|p| p.node_selector.as_ref())
                .and_then(|s| s.get(crate::names::GPU_PRODUCT))
                .cloned(),
            parallelism: spec.and_then(|s| s.parallelism).unwrap_or(1),
            completions: spec.and_then(|s| s.completions).unwrap_or(1),
            active: status.and_then(|s| s.active).unwrap_or(0),
            succeeded: status.and_then(|s| s.succeeded).unwrap_or(0),
            failed: status.and_then(|s| s.failed).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(value: serde_json::Value) -> Job {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_phase_follows_conditions_then_readiness() {
        let pending =
            job(serde_json::json!({ "spec": { "template": {} }, "status": { "active": 1 } }));
        assert_eq!(phase(&pending), (JobPhase::Pending, None));
        let running = job(
            serde_json::json!({ "spec": { "template": {} }, "status": { "active": 1, "ready": 1 } }),
        );
        assert_eq!(phase(&running).0, JobPhase::Running);
        let done = job(serde_json::json!({ "spec": { "template": {} }, "status": {
            "conditions": [{ "type": "Complete", "status": "True" }] } }));
        assert_eq!(phase(&done).0, JobPhase::Succeeded);
        let failed = job(serde_json::json!({ "spec": { "template": {} }, "status": {
            "conditions": [{ "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                             "message": "Job has reached the specified backoff limit" }] } }));
        assert_eq!(
            phase(&failed),
            (
                JobPhase::Failed,
                Some("BackoffLimitExceeded: Job has reached the specified backoff limit".into())
            )
        );
        let suspended = job(serde_json::json!({ "spec": { "suspend": true, "template": {} } }));
        assert_eq!(phase(&suspended).0, JobPhase::Suspended);
    }

    #[test]
    fn a_running_pod_makes_a_pending_job_running_and_nothing_else() {
        assert_eq!(with_pods(JobPhase::Pending, true), JobPhase::Running);
        assert_eq!(with_pods(JobPhase::Pending, false), JobPhase::Pending);
        for settled in [JobPhase::Succeeded, JobPhase::Suspended, JobPhase::Running] {
            assert_eq!(with_pods(settled.clone(), true), settled);
        }
    }

    #[test]
    fn a_job_keeps_its_gpus_and_model() {
        let info = JobInfo::from_job(&job(serde_json::json!({
            "metadata": { "namespace": "team-a", "name": "ft", "uid": "u1" },
            "spec": { "parallelism": 2, "completions": 4, "template": { "spec": {
                "nodeSelector": { "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" },
                "containers": [{ "name": "train", "resources": { "limits": { "nvidia.com/gpu": "4" } } }]
            } } },
            "status": { "active": 2, "succeeded": 1 }
        })));
        assert_eq!(
            (info.gpus_per_pod, info.gpu_resource.as_deref()),
            (4, Some("nvidia.com/gpu"))
        );
        assert_eq!(info.gpu_model.as_deref(), Some("NVIDIA-H100-80GB-HBM3"));
        assert_eq!(
            (
                info.parallelism,
                info.completions,
                info.active,
                info.succeeded
            ),
            (2, 4, 2, 1)
        );
    }
}
