//! Malformed launch forms, each with the field it must fail on and a word of the reason.

use super::{JobForm, KeyValue, Mount, SecretRef};

/// (what, form, field, a word of the reason).
pub(super) type Case = (&'static str, JobForm, &'static str, &'static str);

/// A form that passes: each case changes one thing of it, and other tests start from it.
pub(crate) fn good() -> JobForm {
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

mod job;
mod resources;
mod variables;

/// Every malformed form: each is `good()` with one thing wrong.
pub(super) fn cases() -> Vec<Case> {
    [job::cases(), resources::cases(), variables::cases()].concat()
}
