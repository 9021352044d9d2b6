//! The batch/v1 Job a validated launch form becomes (server only). The preview shows
//! exactly this object, and exactly this object is sent.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, PersistentVolumeClaimVolumeSource,
    PodSpec, PodTemplateSpec, ResourceRequirements, SecretKeySelector, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::form::{Checked, JobForm};
use crate::names::{GPU, GPU_PRODUCT};

/// Marks the Jobs Gantry launched (and their pods, through the template).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "gantry");
/// Who launched it, as an annotation: usernames need not be valid label values.
pub const LAUNCHED_BY: &str = "gantry.dev/launched-by";

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `lr` → `HP_LR`, `warmup-steps` → `HP_WARMUP_STEPS`.
pub fn hyperparameter_env(key: &str) -> String {
    format!("HP_{}", key.to_ascii_uppercase().replace(['-', '.'], "_"))
}

/// The Job for `form`, which [`super::form::validate`] has accepted as `checked`.
pub fn job(form: &JobForm, checked: &Checked, launched_by: &str) -> Job {
    let mut labels: BTreeMap<String, String> = form
        .labels
        .iter()
        .map(|l| (l.key.clone(), l.value.clone()))
        .collect();
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());

    let mut env: Vec<EnvVar> = form
        .env
        .iter()
        .map(|e| EnvVar {
            name: e.key.clone(),
            value: Some(e.value.clone()),
            ..Default::default()
        })
        .collect();
    env.extend(form.secret_env.iter().map(|s| EnvVar {
        name: s.name.clone(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: s.secret.clone(),
                key: s.key.clone(),
                optional: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }));
    let mut args = lines(&form.args);
    for hp in &form.hyperparameters {
        if form.hyperparameters_as == "env" {
            env.push(EnvVar {
                name: hyperparameter_env(&hp.key),
                value: Some(hp.value.clone()),
                ..Default::default()
            });
        } else {
            args.push(format!("--{}={}", hp.key, hp.value));
        }
    }

    let quantity =
        |text: &str| (!text.trim().is_empty()).then(|| Quantity(text.trim().to_string()));
    let pick = |pairs: [(&str, &String); 2]| -> BTreeMap<String, Quantity> {
        pairs
            .into_iter()
            .filter_map(|(name, text)| Some((name.to_string(), quantity(text)?)))
            .collect()
    };
    let mut requests = pick([("cpu", &form.cpu_request), ("memory", &form.memory_request)]);
    let mut limits = pick([("cpu", &form.cpu_limit), ("memory", &form.memory_limit)]);
    if checked.gpus > 0 {
        // Extended resources: the request must equal the limit.
        let gpus = Quantity(checked.gpus.to_string());
        requests.insert(form.gpu_resource.clone(), gpus.clone());
        limits.insert(form.gpu_resource.clone(), gpus);
    }

    let mut mounts: Vec<VolumeMount> = Vec::new();
    let mut volumes: Vec<Volume> = Vec::new();
    for (i, mount) in form.mounts.iter().enumerate() {
        let name = format!("claim-{i}");
        volumes.push(Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: mount.claim.clone(),
                read_only: mount.read_only.then_some(true),
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name,
            mount_path: mount.path.trim_end_matches('/').to_string(),
            read_only: mount.read_only.then_some(true),
            ..Default::default()
        });
    }
    if let Some(size) = quantity(&form.shm_size) {
        volumes.push(Volume {
            name: "dshm".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(size),
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: "dshm".into(),
            mount_path: "/dev/shm".into(),
            ..Default::default()
        });
    }

    let node_selector = (!form.gpu_model.is_empty())
        .then(|| BTreeMap::from([(GPU_PRODUCT.to_string(), form.gpu_model.clone())]));
    // GPU nodes are commonly tainted so that only GPU work lands there.
    let tolerations = (checked.gpus > 0).then(|| {
        vec![Toleration {
            key: Some(GPU.into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }]
    });
    let command = lines(&form.command);

    Job {
        metadata: ObjectMeta {
            name: Some(form.name.clone()),
            namespace: Some(form.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(BTreeMap::from([(
                LAUNCHED_BY.to_string(),
                launched_by.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(JobSpec {
            parallelism: Some(checked.parallelism),
            completions: Some(checked.completions),
            backoff_limit: Some(checked.backoff_limit),
            active_deadline_seconds: checked.active_deadline_seconds,
            ttl_seconds_after_finished: checked.ttl_seconds_after_finished,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: (!form.annotations.is_empty()).then(|| {
                        form.annotations
                            .iter()
                            .map(|a| (a.key.clone(), a.value.clone()))
                            .collect()
                    }),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    node_selector,
                    tolerations,
                    containers: vec![Container {
                        name: "train".into(),
                        image: Some(form.image.trim().to_string()),
                        command: (!command.is_empty()).then_some(command),
                        args: (!args.is_empty()).then_some(args),
                        env: (!env.is_empty()).then_some(env),
                        resources: Some(ResourceRequirements {
                            requests: (!requests.is_empty()).then_some(requests),
                            limits: (!limits.is_empty()).then_some(limits),
                            ..Default::default()
                        }),
                        volume_mounts: (!mounts.is_empty()).then_some(mounts),
                        ..Default::default()
                    }],
                    volumes: (!volumes.is_empty()).then_some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::form::malformed::good;
    use crate::jobs::form::{validate, Context, KeyValue, Mount};
    use crate::names::GPU;

    #[test]
    fn the_manifest_carries_every_field_of_the_form() {
        // The shared good form, with the fields it leaves at their defaults set too, a
        // trailing newline in the command and a trailing slash in a mount path.
        let form = JobForm {
            image: "pytorch/pytorch:2.4.0".into(),
            command: "torchrun\n--nproc-per-node=4\n".into(),
            cpu_limit: "8".into(),
            mounts: vec![Mount {
                claim: "datasets".into(),
                path: "/data/".into(),
                read_only: true,
            }],
            ttl_seconds_after_finished: "3600".into(),
            annotations: vec![KeyValue {
                key: "example.com/run".into(),
                value: "5m".into(),
            }],
            ..good()
        };
        let context = Context {
            namespaces: vec!["team-a".into()],
            models: vec!["NVIDIA-H100-80GB-HBM3".into()],
            largest: vec![(GPU.into(), 8)],
        };
        let checked = validate(&form, &context).unwrap();
        let job = serde_json::to_value(job(&form, &checked, "alice")).unwrap();
        let pod = &job["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(
            job["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "gantry"
        );
        assert_eq!(job["metadata"]["annotations"][LAUNCHED_BY], "alice");
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
        assert_eq!(job["spec"]["template"]["metadata"]["labels"]["team"], "nlp");
        assert_eq!(
            job["spec"]["template"]["metadata"]["annotations"]["example.com/run"],
            "5m"
        );
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(
            pod["nodeSelector"]["nvidia.com/gpu.product"],
            "NVIDIA-H100-80GB-HBM3"
        );
        assert_eq!(
            container["command"],
            serde_json::json!(["torchrun", "--nproc-per-node=4"])
        );
        assert_eq!(
            container["args"],
            serde_json::json!(["train.py", "--lr=3e-4"])
        );
        assert_eq!(container["resources"]["limits"]["nvidia.com/gpu"], "4");
        assert_eq!(container["resources"]["requests"]["nvidia.com/gpu"], "4");
        assert_eq!(container["resources"]["limits"]["cpu"], "8");
        assert_eq!(container["resources"]["requests"]["memory"], "16Gi");
        assert_eq!(
            container["env"][1]["valueFrom"]["secretKeyRef"],
            serde_json::json!({ "name": "hf", "key": "token" })
        );
        assert_eq!(container["volumeMounts"][0]["mountPath"], "/data");
        assert_eq!(
            pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "datasets"
        );
        assert_eq!(
            pod["volumes"][1]["emptyDir"],
            serde_json::json!({ "medium": "Memory", "sizeLimit": "16Gi" })
        );
        assert_eq!(container["volumeMounts"][1]["mountPath"], "/dev/shm");

        let as_env = JobForm {
            hyperparameters_as: "env".into(),
            ..form
        };
        let job = serde_json::to_value(super::job(&as_env, &checked, "alice")).unwrap();
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"], serde_json::json!(["train.py"]));
        assert_eq!(
            container["env"][2],
            serde_json::json!({ "name": "HP_LR", "value": "3e-4" })
        );
    }
}
