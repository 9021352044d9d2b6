//! Malformed launch forms, each with the field it must fail on and a word of the reason.

use super::{JobForm, KeyValue, Mount, SecretRef};

/// (what, form, field, a word of the reason).
pub(super) type Case = (&'static str, JobForm, &'static str, &'static str);

/// A form that passes: each case changes one thing of it.
pub(super) fn good() -> JobForm {
    JobForm {
        name: "llama-ft".into(),
        namespace: "team-a".into(),
        image: "nvcr.io/nvidia/pytorch:24.05-py3".into(),
        command: "torchrun\n--nproc-per-node=4".into(),
        args: "train.py".into(),
        env: vec![KeyValue {
            key: "NCCL_DEBUG".into(),
            value: "INFO".into(),
        }],
        secret_env: vec![SecretRef {
            name: "HF_TOKEN".into(),
            secret: "hf".into(),
            key: "token".into(),
        }],
        gpus: "4".into(),
        gpu_model: "NVIDIA-H100-80GB-HBM3".into(),
        mounts: vec![Mount {
            claim: "datasets".into(),
            path: "/data".into(),
            read_only: true,
        }],
        shm_size: "16Gi".into(),
        labels: vec![KeyValue {
            key: "team".into(),
            value: "nlp".into(),
        }],
        hyperparameters: vec![KeyValue {
            key: "lr".into(),
            value: "3e-4".into(),
        }],
        ..JobForm::default()
    }
}

/// Each form is `good()` with one thing wrong.
pub(super) fn cases() -> Vec<Case> {
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: v.into(),
    };
    vec![
        (
            "empty name",
            JobForm {
                name: "".into(),
                ..good()
            },
            "name",
            "required",
        ),
        (
            "upper-case name",
            JobForm {
                name: "Train".into(),
                ..good()
            },
            "name",
            "lower-case",
        ),
        (
            "underscore in name",
            JobForm {
                name: "my_job".into(),
                ..good()
            },
            "name",
            "lower-case",
        ),
        (
            "name starting with -",
            JobForm {
                name: "-job".into(),
                ..good()
            },
            "name",
            "starting",
        ),
        (
            "64-character name",
            JobForm {
                name: "a".repeat(64),
                ..good()
            },
            "name",
            "at most 63",
        ),
        (
            "dotted name",
            JobForm {
                name: "a.b".into(),
                ..good()
            },
            "name",
            "lower-case",
        ),
        (
            "no namespace",
            JobForm {
                namespace: "".into(),
                ..good()
            },
            "namespace",
            "required",
        ),
        (
            "someone else's namespace",
            JobForm {
                namespace: "team-b".into(),
                ..good()
            },
            "namespace",
            "may launch",
        ),
        (
            "no image",
            JobForm {
                image: "".into(),
                ..good()
            },
            "image",
            "required",
        ),
        (
            "image with spaces",
            JobForm {
                image: "pytorch/pytorch latest".into(),
                ..good()
            },
            "image",
            "no spaces",
        ),
        (
            "javascript: image",
            JobForm {
                image: "javascript:alert(1)".into(),
                ..good()
            },
            "image",
            "no scheme",
        ),
        (
            "URL as image",
            JobForm {
                image: "https://ghcr.io/org/img".into(),
                ..good()
            },
            "image",
            "no scheme",
        ),
        (
            "upper-case image",
            JobForm {
                image: "PyTorch/PyTorch".into(),
                ..good()
            },
            "image",
            "lower-case",
        ),
        (
            "bad tag",
            JobForm {
                image: "pytorch/pytorch:-x".into(),
                ..good()
            },
            "image",
            "tag",
        ),
        (
            "bad digest",
            JobForm {
                image: "pytorch/pytorch@sha256:xyz".into(),
                ..good()
            },
            "image",
            "digest",
        ),
        (
            "negative GPUs",
            JobForm {
                gpus: "-1".into(),
                ..good()
            },
            "gpus",
            "negative",
        ),
        (
            "fractional GPUs",
            JobForm {
                gpus: "1.5".into(),
                ..good()
            },
            "gpus",
            "whole number",
        ),
        (
            "GPUs in words",
            JobForm {
                gpus: "two".into(),
                ..good()
            },
            "gpus",
            "whole number",
        ),
        (
            "more GPUs than any node",
            JobForm {
                gpus: "9".into(),
                ..good()
            },
            "gpus",
            "no node has more than 8",
        ),
        (
            "more MIG slices than any node",
            JobForm {
                gpu_resource: "nvidia.com/mig-1g.10gb".into(),
                gpus: "17".into(),
                ..good()
            },
            "gpus",
            "more than 16",
        ),
        (
            "unknown GPU resource",
            JobForm {
                gpu_resource: "amd.com/gpu".into(),
                ..good()
            },
            "gpu_resource",
            "MIG profile",
        ),
        (
            "absent MIG profile",
            JobForm {
                gpu_resource: "nvidia.com/mig-7g.80gb".into(),
                ..good()
            },
            "gpu_resource",
            "no node",
        ),
        (
            "unknown GPU model",
            JobForm {
                gpu_model: "NVIDIA-B200".into(),
                ..good()
            },
            "gpu_model",
            "no node",
        ),
        (
            "malformed CPU",
            JobForm {
                cpu_request: "1.2.3".into(),
                ..good()
            },
            "cpu_request",
            "not a quantity",
        ),
        (
            "unknown memory unit",
            JobForm {
                memory_request: "12XB".into(),
                ..good()
            },
            "memory_request",
            "unknown unit",
        ),
        (
            "negative memory",
            JobForm {
                memory_limit: "-1Gi".into(),
                ..good()
            },
            "memory_limit",
            "negative",
        ),
        (
            "CPU request over limit",
            JobForm {
                cpu_request: "8".into(),
                cpu_limit: "4".into(),
                ..good()
            },
            "cpu_request",
            "more than the CPU limit",
        ),
        (
            "memory request over limit",
            JobForm {
                memory_request: "64Gi".into(),
                memory_limit: "32Gi".into(),
                ..good()
            },
            "memory_request",
            "more than the memory limit",
        ),
        (
            "zero shared memory",
            JobForm {
                shm_size: "0".into(),
                ..good()
            },
            "shm_size",
            "leave it empty",
        ),
        (
            "env name with a dash",
            JobForm {
                env: vec![kv("MY-VAR", "1")],
                ..good()
            },
            "env[0].name",
            "letters",
        ),
        (
            "env name starting with a digit",
            JobForm {
                env: vec![kv("1ABC", "1")],
                ..good()
            },
            "env[0].name",
            "not starting with a digit",
        ),
        (
            "env set twice",
            JobForm {
                env: vec![kv("A", "1"), kv("A", "2")],
                ..good()
            },
            "env[1].name",
            "set twice",
        ),
        (
            "env and secret env clash",
            JobForm {
                env: vec![kv("HF_TOKEN", "x")],
                ..good()
            },
            "secret_env[0].name",
            "set twice",
        ),
        (
            "bad Secret name",
            JobForm {
                secret_env: vec![SecretRef {
                    name: "T".into(),
                    secret: "Bad_Secret".into(),
                    key: "k".into(),
                }],
                ..good()
            },
            "secret_env[0].secret",
            "not a Secret name",
        ),
        (
            "bad Secret key",
            JobForm {
                secret_env: vec![SecretRef {
                    name: "T".into(),
                    secret: "s".into(),
                    key: "a/b".into(),
                }],
                ..good()
            },
            "secret_env[0].key",
            "letters",
        ),
        (
            "bad claim name",
            JobForm {
                mounts: vec![Mount {
                    claim: "Data Sets".into(),
                    path: "/data".into(),
                    read_only: false,
                }],
                ..good()
            },
            "mounts[0].claim",
            "not a PersistentVolumeClaim",
        ),
        (
            "relative mount path",
            JobForm {
                mounts: vec![Mount {
                    claim: "d".into(),
                    path: "data".into(),
                    read_only: false,
                }],
                ..good()
            },
            "mounts[0].path",
            "absolute",
        ),
        (
            "mount at /",
            JobForm {
                mounts: vec![Mount {
                    claim: "d".into(),
                    path: "/".into(),
                    read_only: false,
                }],
                ..good()
            },
            "mounts[0].path",
            "other than /",
        ),
        (
            "mount path with ..",
            JobForm {
                mounts: vec![Mount {
                    claim: "d".into(),
                    path: "/data/../etc".into(),
                    read_only: false,
                }],
                ..good()
            },
            "mounts[0].path",
            "'..'",
        ),
        (
            "duplicate mount paths",
            JobForm {
                mounts: vec![
                    Mount {
                        claim: "a".into(),
                        path: "/data".into(),
                        read_only: false,
                    },
                    Mount {
                        claim: "b".into(),
                        path: "/data/".into(),
                        read_only: false,
                    },
                ],
                ..good()
            },
            "mounts[1].path",
            "already mounted",
        ),
        (
            "mount over /dev/shm",
            JobForm {
                mounts: vec![Mount {
                    claim: "a".into(),
                    path: "/dev/shm".into(),
                    read_only: false,
                }],
                ..good()
            },
            "mounts[0].path",
            "already mounted",
        ),
        (
            "zero parallelism",
            JobForm {
                parallelism: "0".into(),
                ..good()
            },
            "parallelism",
            "between 1",
        ),
        (
            "zero completions",
            JobForm {
                completions: "0".into(),
                ..good()
            },
            "completions",
            "between 1",
        ),
        (
            "negative backoff limit",
            JobForm {
                backoff_limit: "-1".into(),
                ..good()
            },
            "backoff_limit",
            "between 0",
        ),
        (
            "fractional deadline",
            JobForm {
                active_deadline_seconds: "1.5".into(),
                ..good()
            },
            "active_deadline_seconds",
            "whole number",
        ),
        (
            "negative TTL",
            JobForm {
                ttl_seconds_after_finished: "-5".into(),
                ..good()
            },
            "ttl_seconds_after_finished",
            "between 0",
        ),
        (
            "bad label key",
            JobForm {
                labels: vec![kv("-team", "nlp")],
                ..good()
            },
            "labels[0].key",
            "a key is",
        ),
        (
            "reserved label prefix",
            JobForm {
                labels: vec![kv("kubernetes.io/team", "nlp")],
                ..good()
            },
            "labels[0].key",
            "reserved",
        ),
        (
            "oversized label value",
            JobForm {
                labels: vec![kv("team", &"n".repeat(64))],
                ..good()
            },
            "labels[0].value",
            "at most 63",
        ),
        (
            "label set twice",
            JobForm {
                labels: vec![kv("team", "a"), kv("team", "b")],
                ..good()
            },
            "labels[1].key",
            "set twice",
        ),
        (
            "annotation with a space",
            JobForm {
                annotations: vec![kv("run time", "5m")],
                ..good()
            },
            "annotations[0].key",
            "a key is",
        ),
        (
            "oversized annotation",
            JobForm {
                annotations: vec![kv("note", &"x".repeat(4097))],
                ..good()
            },
            "annotations[0].value",
            "longer than 4 KiB",
        ),
        (
            "bad hyperparameter key",
            JobForm {
                hyperparameters: vec![kv("1lr", "3")],
                ..good()
            },
            "hyperparameters[0].key",
            "a letter",
        ),
        (
            "hyperparameter set twice",
            JobForm {
                hyperparameters: vec![kv("lr", "3"), kv("LR", "4")],
                ..good()
            },
            "hyperparameters[1].key",
            "set twice",
        ),
        (
            "unknown hyperparameter mode",
            JobForm {
                hyperparameters_as: "yaml".into(),
                ..good()
            },
            "hyperparameters_as",
            "args or env",
        ),
        (
            "NUL in args",
            JobForm {
                args: "a\0b".into(),
                ..good()
            },
            "args",
            "NUL",
        ),
        (
            "tracking without an experiment",
            JobForm {
                tracking: true,
                experiment: " ".into(),
                ..good()
            },
            "experiment",
            "name the MLflow experiment",
        ),
        (
            "experiment over two lines",
            JobForm {
                tracking: true,
                experiment: "a\nb".into(),
                ..good()
            },
            "experiment",
            "one line",
        ),
        (
            "tracking's variable set by hand",
            JobForm {
                tracking: true,
                experiment: "llama".into(),
                env: vec![kv("MLFLOW_RUN_ID", "abc")],
                ..good()
            },
            "env[0].name",
            "set by tracking",
        ),
    ]
}
