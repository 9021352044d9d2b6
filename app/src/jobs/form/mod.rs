//! The launch form as data, and its validation: pure, so the browser shows each error next
//! to its field as the user types and the server checks the same rules before anything is
//! sent to the cluster.

use serde::{Deserialize, Serialize};

pub use crate::error::FieldError;
pub use validate::{too_large, validate};

pub mod lines;
#[cfg(test)]
pub(crate) mod malformed;
#[cfg(test)]
mod tests;
pub mod text;
mod validate;

/// A `key = value` pair of the form (environment variable, label, hyperparameter).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// An environment variable filled from a Secret's key. Only the names travel: Gantry never
/// reads a Secret's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    pub name: String,
    pub secret: String,
    pub key: String,
}

/// An existing PersistentVolumeClaim mounted into the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub claim: String,
    pub path: String,
    pub read_only: bool,
}

/// What the launch form holds, as typed: numbers and quantities stay text until validated,
/// so a bad value can be named and explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobForm {
    pub name: String,
    pub namespace: String,
    pub image: String,
    /// One word per line; empty to use the image's entrypoint.
    pub command: String,
    /// One argument per line.
    pub args: String,
    pub env: Vec<KeyValue>,
    pub secret_env: Vec<SecretRef>,
    /// Whole GPUs (or MIG slices, see `gpu_resource`).
    pub gpus: String,
    /// `nvidia.com/gpu.product` to select, or empty for any.
    pub gpu_model: String,
    /// `nvidia.com/gpu`, or a MIG profile such as `nvidia.com/mig-1g.10gb`.
    pub gpu_resource: String,
    pub cpu_request: String,
    pub cpu_limit: String,
    pub memory_request: String,
    pub memory_limit: String,
    pub mounts: Vec<Mount>,
    /// Size of a memory-backed `/dev/shm` (PyTorch data loaders), or empty for none.
    pub shm_size: String,
    pub parallelism: String,
    pub completions: String,
    pub backoff_limit: String,
    pub active_deadline_seconds: String,
    pub ttl_seconds_after_finished: String,
    pub labels: Vec<KeyValue>,
    /// Annotations on the job's pods (for tooling that reads them: sidecar injectors,
    /// scrapers, and on the local cluster kwok's run time).
    pub annotations: Vec<KeyValue>,
    pub hyperparameters: Vec<KeyValue>,
    /// `args` (`--key=value` appended) or `env` (`HP_KEY=value`).
    pub hyperparameters_as: String,
    /// Track the job with MLflow: Gantry creates its run in `experiment` and gives its pods
    /// `MLFLOW_TRACKING_URI`, `MLFLOW_RUN_ID` and a token (`jobs::tracking`).
    pub tracking: bool,
    pub experiment: String,
    /// With tracking: also give the namespace a Service `mlflow-server` that reaches Gantry,
    /// for code that names that address itself (`jobs::tracking::service`).
    pub tracking_service: bool,
}

impl Default for JobForm {
    fn default() -> Self {
        JobForm {
            name: String::new(),
            namespace: String::new(),
            image: String::new(),
            command: String::new(),
            args: String::new(),
            env: Vec::new(),
            secret_env: Vec::new(),
            gpus: "1".into(),
            gpu_model: String::new(),
            gpu_resource: crate::names::GPU.into(),
            cpu_request: "4".into(),
            cpu_limit: String::new(),
            memory_request: "16Gi".into(),
            memory_limit: String::new(),
            mounts: Vec::new(),
            shm_size: String::new(),
            parallelism: "1".into(),
            completions: "1".into(),
            backoff_limit: "0".into(),
            active_deadline_seconds: String::new(),
            ttl_seconds_after_finished: String::new(),
            labels: Vec::new(),
            annotations: Vec::new(),
            hyperparameters: Vec::new(),
            hyperparameters_as: "args".into(),
            tracking: false,
            experiment: String::new(),
            tracking_service: false,
        }
    }
}

impl JobForm {
    /// The command and its arguments on one line, as the job's pages show them once the Job
    /// is gone: with the hyperparameters passed as arguments, as the manifest passes them.
    pub fn command_line(&self) -> String {
        let hyperparameters = self
            .hyperparameters
            .iter()
            .filter(|_| self.hyperparameters_as != "env")
            .map(|hp| format!("--{}={}", hp.key, hp.value));
        self.command
            .split_whitespace()
            .chain(self.args.split_whitespace())
            .map(str::to_string)
            .chain(hyperparameters)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The variables tracking gives the job's container (`jobs::tracking`): the form may not
/// set them too while tracking is on.
pub const TRACKING_ENV: [&str; 3] = [
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_TOKEN",
];

/// The most the form takes, so that one request cannot make a Job the API server chokes
/// on (its objects are stored whole in etcd, 1.5 MiB at most) or a history row of megabytes.
pub mod bounds {
    /// Lines of the command, and of the arguments.
    pub const WORDS: usize = 1_000;
    /// Bytes of the command, and of the arguments.
    pub const TEXT: usize = 64 * 1024;
    /// Bytes of one environment variable's, annotation's or hyperparameter's value.
    pub const VALUE: usize = 4 * 1024;
    /// Entries of each list: environment variables, Secret references, mounts, labels,
    /// annotations, hyperparameters.
    pub const ENTRIES: usize = 100;
}

/// What the checks need to know about the cluster and the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// Namespaces the user may launch in.
    pub namespaces: Vec<String>,
    /// GPU models present (`nvidia.com/gpu.product`).
    pub models: Vec<String>,
    /// Per GPU resource: the most any one node offers (a pod cannot span nodes).
    pub largest: Vec<(String, i64)>,
}

/// The values that validation has parsed, for building the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub gpus: i64,
    pub parallelism: i32,
    pub completions: i32,
    pub backoff_limit: i32,
    pub active_deadline_seconds: Option<i64>,
    pub ttl_seconds_after_finished: Option<i32>,
}
