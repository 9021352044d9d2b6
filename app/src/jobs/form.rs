//! The launch form as data, and its validation: pure, so the browser shows each error next
//! to its field as the user types and the server checks the same rules before anything is
//! sent to the cluster.

use serde::{Deserialize, Serialize};

pub use crate::error::FieldError;

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
            gpu_resource: GPU.into(),
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
        }
    }
}

pub const GPU: &str = "nvidia.com/gpu";

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

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A C identifier, the portable rule for environment variable names.
fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A Secret key: letters, digits, `-`, `_`, `.`; at most 253.
fn is_config_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s != "."
        && s != ".."
}

/// The name part of a label key or a label value: at most 63, alphanumerics at both ends,
/// `-`, `_`, `.` inside.
fn is_label_name(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.is_empty() || !is_label_name(name) {
        return Some("a key is a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, with an optional DNS prefix and '/'".into());
    }
    if let Some(prefix) = prefix {
        if !is_dns_subdomain(prefix) {
            return Some(format!("the prefix {prefix:?} is not a DNS subdomain"));
        }
        if prefix == "kubernetes.io"
            || prefix.ends_with(".kubernetes.io")
            || prefix == "k8s.io"
            || prefix.ends_with(".k8s.io")
            || prefix == "gantry.dev"
        {
            return Some(format!("the prefix {prefix:?} is reserved"));
        }
    }
    None
}

/// A container image reference: no spaces or control characters, no URL scheme, a name of
/// lower-case path components with an optional registry, tag and digest.
fn image_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() {
        return Some("required");
    }
    if image.len() > 4096 {
        return Some("longer than 4096 characters");
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("an image reference has no spaces");
    }
    if image.contains("://") || image.to_ascii_lowercase().starts_with("javascript:") {
        return Some("an image reference has no scheme: write registry/name:tag");
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let valid = digest.split_once(':').is_some_and(|(algorithm, hex)| {
            !algorithm.is_empty()
                && algorithm.bytes().all(|b| b.is_ascii_alphanumeric())
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !valid {
            return Some("the digest after '@' is not algorithm:hex");
        }
    }
    // A tag follows the last ':' after the last '/' (a registry's port comes before it).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && !tag.starts_with(['.', '-']);
        if !valid {
            return Some("the tag is not 1–128 letters, digits, '_', '.' or '-'");
        }
    }
    let mut components = name.split('/').peekable();
    let mut first = true;
    while let Some(component) = components.next() {
        // The first of several components may be a registry host with a port.
        let registry = first
            && components.peek().is_some()
            && (component.contains(['.', ':']) || component == "localhost");
        first = false;
        let valid = if registry {
            component
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        } else {
            !component.is_empty()
                && component.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && component
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
        };
        if !valid {
            return Some(
                "the name is lower-case letters, digits and '.', '_', '-' in '/'-separated parts",
            );
        }
    }
    None
}

/// Checks every field; all problems at once, so the form can show each beside its field.
pub fn validate(form: &JobForm, context: &Context) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, reason: &str| {
        errors.push(FieldError {
            field: field.to_string(),
            reason: reason.to_string(),
        })
    };

    // Job names become the `job-name` label of its pods: a DNS label, 63 at most.
    if form.name.is_empty() {
        fail("name", "required");
    } else if !is_dns_label(&form.name) {
        fail(
            "name",
            "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63",
        );
    }
    if form.namespace.is_empty() {
        fail("namespace", "required");
    } else if !context.namespaces.contains(&form.namespace) {
        fail("namespace", "not a namespace you may launch jobs in");
    }
    if let Some(problem) = image_problem(form.image.trim()) {
        fail("image", problem);
    }
    for (field, text) in [("command", &form.command), ("args", &form.args)] {
        if text.contains('\0') {
            fail(field, "contains a NUL character");
        }
    }

    let mut gpus = 0;
    match form.gpus.trim().parse::<i64>() {
        Err(_) if form.gpus.trim().parse::<f64>().is_ok() => fail("gpus", "a whole number of GPUs"),
        Err(_) => fail("gpus", "a whole number of GPUs, 0 for none"),
        Ok(n) if n < 0 => fail("gpus", "must not be negative"),
        Ok(n) => gpus = n,
    }
    let resource = form.gpu_resource.as_str();
    let mig_profile = resource.strip_prefix("nvidia.com/mig-");
    if resource != GPU && mig_profile.is_none_or(str::is_empty) {
        fail(
            "gpu_resource",
            "nvidia.com/gpu or a MIG profile (nvidia.com/mig-…)",
        );
    } else if gpus > 0 {
        match context.largest.iter().find(|(r, _)| r == resource) {
            None => fail(
                "gpu_resource",
                "no node in the cluster offers this resource",
            ),
            Some((_, largest)) if gpus > *largest => fail(
                "gpus",
                &format!("no node has more than {largest} of {resource}; a pod cannot span nodes"),
            ),
            Some(_) => {}
        }
    }
    if !form.gpu_model.is_empty() && !context.models.contains(&form.gpu_model) {
        fail("gpu_model", "no node in the cluster has this GPU model");
    }

    let mut parsed = |field: &str, text: &str| -> Option<f64> {
        if text.trim().is_empty() {
            return None;
        }
        match crate::quantity::parse(text) {
            Ok(v) => Some(v),
            Err(reason) => {
                fail(field, &reason);
                None
            }
        }
    };
    let cpu = (
        parsed("cpu_request", &form.cpu_request),
        parsed("cpu_limit", &form.cpu_limit),
    );
    let memory = (
        parsed("memory_request", &form.memory_request),
        parsed("memory_limit", &form.memory_limit),
    );
    let shm = parsed("shm_size", &form.shm_size);
    if let (Some(request), Some(limit)) = cpu {
        if request > limit {
            fail("cpu_request", "more than the CPU limit");
        }
    }
    if let (Some(request), Some(limit)) = memory {
        if request > limit {
            fail("memory_request", "more than the memory limit");
        }
    }
    if shm == Some(0.0) {
        fail(
            "shm_size",
            "leave it empty for no shared memory, or give a size",
        );
    }

    let mut seen_env = std::collections::BTreeSet::new();
    let env_names = form
        .env
        .iter()
        .map(|e| &e.key)
        .chain(form.secret_env.iter().map(|s| &s.name));
    for (i, name) in env_names.enumerate() {
        let field = if i < form.env.len() {
            format!("env[{i}].name")
        } else {
            format!("secret_env[{}].name", i - form.env.len())
        };
        if !is_env_name(name) {
            fail(&field, "letters, digits and '_', not starting with a digit");
        } else if !seen_env.insert(name.clone()) {
            fail(&field, "set twice");
        }
    }
    for (i, secret) in form.secret_env.iter().enumerate() {
        if !is_dns_subdomain(&secret.secret) {
            fail(&format!("secret_env[{i}].secret"), "not a Secret name");
        }
        if !is_config_key(&secret.key) {
            fail(
                &format!("secret_env[{i}].key"),
                "letters, digits, '-', '_' or '.'",
            );
        }
    }

    let mut paths = std::collections::BTreeSet::new();
    if shm.is_some() {
        paths.insert("/dev/shm".to_string());
    }
    for (i, mount) in form.mounts.iter().enumerate() {
        if !is_dns_subdomain(&mount.claim) {
            fail(
                &format!("mounts[{i}].claim"),
                "not a PersistentVolumeClaim name",
            );
        }
        let path = mount.path.trim_end_matches('/');
        if !mount.path.starts_with('/') || path.is_empty() {
            fail(
                &format!("mounts[{i}].path"),
                "an absolute path other than /",
            );
        } else if path.split('/').any(|part| part == "..") || path.contains(':') {
            fail(
                &format!("mounts[{i}].path"),
                "no '..' or ':' in a mount path",
            );
        } else if !paths.insert(path.to_string()) {
            fail(&format!("mounts[{i}].path"), "already mounted");
        }
    }

    let mut count = |field: &str, text: &str, min: i64, max: i64| -> Option<i64> {
        if text.trim().is_empty() {
            return None;
        }
        match text.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            Ok(_) => {
                fail(field, &format!("between {min} and {max}"));
                None
            }
            Err(_) => {
                fail(field, "a whole number");
                None
            }
        }
    };
    let parallelism = count("parallelism", &form.parallelism, 1, 1000).unwrap_or(1);
    let completions = count("completions", &form.completions, 1, 100_000).unwrap_or(1);
    let backoff_limit = count("backoff_limit", &form.backoff_limit, 0, 100).unwrap_or(0);
    let active_deadline_seconds = count(
        "active_deadline_seconds",
        &form.active_deadline_seconds,
        1,
        i64::from(i32::MAX),
    );
    let ttl = count(
        "ttl_seconds_after_finished",
        &form.ttl_seconds_after_finished,
        0,
        i64::from(i32::MAX),
    );

    let mut seen_labels = std::collections::BTreeSet::new();
    for (i, label) in form.labels.iter().enumerate() {
        if let Some(problem) = label_key_problem(&label.key) {
            fail(&format!("labels[{i}].key"), &problem);
        } else if !seen_labels.insert(label.key.clone()) {
            fail(&format!("labels[{i}].key"), "set twice");
        }
        if !is_label_name(&label.value) {
            fail(
                &format!("labels[{i}].value"),
                "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            );
        }
    }
    let mut seen_annotations = std::collections::BTreeSet::new();
    for (i, annotation) in form.annotations.iter().enumerate() {
        if let Some(problem) = label_key_problem(&annotation.key) {
            fail(&format!("annotations[{i}].key"), &problem);
        } else if !seen_annotations.insert(annotation.key.clone()) {
            fail(&format!("annotations[{i}].key"), "set twice");
        }
        if annotation.value.len() > 4096 {
            fail(
                &format!("annotations[{i}].value"),
                "longer than 4096 characters",
            );
        }
    }
    let mut seen_hp = std::collections::BTreeSet::new();
    for (i, hp) in form.hyperparameters.iter().enumerate() {
        let valid = !hp.key.is_empty()
            && hp.key.len() <= 64
            && hp
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && hp
                .key
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic());
        if !valid {
            fail(
                &format!("hyperparameters[{i}].key"),
                "a letter, then letters, digits, '_', '-' or '.'",
            );
        } else if !seen_hp.insert(hp.key.to_ascii_uppercase()) {
            fail(&format!("hyperparameters[{i}].key"), "set twice");
        }
        if hp.value.contains('\0') {
            fail(
                &format!("hyperparameters[{i}].value"),
                "contains a NUL character",
            );
        }
    }
    if !matches!(form.hyperparameters_as.as_str(), "args" | "env") {
        fail("hyperparameters_as", "args or env");
    }

    if errors.is_empty() {
        Ok(Checked {
            gpus,
            parallelism: parallelism as i32,
            completions: completions as i32,
            backoff_limit: backoff_limit as i32,
            active_deadline_seconds,
            ttl_seconds_after_finished: ttl.map(|t| t as i32),
        })
    } else {
        Err(errors)
    }
}

/// Lists edited as lines of text in the form: `KEY=value`, `NAME=secret/key`,
/// `claim:/path` (`:ro` for read-only). Each reader has a writer that it reads back.
pub mod lines {
    use super::{KeyValue, Mount, SecretRef};

    fn nonblank(text: &str) -> impl Iterator<Item = &str> {
        text.lines().map(str::trim).filter(|l| !l.is_empty())
    }

    pub fn pairs(text: &str) -> Vec<KeyValue> {
        nonblank(text)
            .map(|l| {
                let (key, value) = l.split_once('=').unwrap_or((l, ""));
                KeyValue {
                    key: key.trim().into(),
                    value: value.trim().into(),
                }
            })
            .collect()
    }

    pub fn pairs_text(pairs: &[KeyValue]) -> String {
        pairs
            .iter()
            .map(|p| format!("{}={}", p.key, p.value))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn secrets(text: &str) -> Vec<SecretRef> {
        pairs(text)
            .into_iter()
            .map(|kv| {
                let (secret, key) = kv.value.split_once('/').unwrap_or((&kv.value, ""));
                SecretRef {
                    secret: secret.into(),
                    key: key.into(),
                    name: kv.key,
                }
            })
            .collect()
    }

    pub fn secrets_text(secrets: &[SecretRef]) -> String {
        secrets
            .iter()
            .map(|s| format!("{}={}/{}", s.name, s.secret, s.key))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn mounts(text: &str) -> Vec<Mount> {
        nonblank(text)
            .map(|l| {
                let (claim, rest) = l.split_once(':').unwrap_or((l, ""));
                let (path, read_only) = match rest.strip_suffix(":ro") {
                    Some(path) => (path, true),
                    None => (rest, false),
                };
                Mount {
                    claim: claim.trim().into(),
                    path: path.trim().into(),
                    read_only,
                }
            })
            .collect()
    }

    pub fn mounts_text(mounts: &[Mount]) -> String {
        mounts
            .iter()
            .map(|m| {
                format!(
                    "{}:{}{}",
                    m.claim,
                    m.path,
                    if m.read_only { ":ro" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn each_list_reads_back_what_it_writes() {
            let kv = pairs("LR = 3e-4\n\n  FLAG\nURL=a=b");
            assert_eq!(pairs_text(&kv), "LR=3e-4\nFLAG=\nURL=a=b");
            assert_eq!(pairs(&pairs_text(&kv)), kv);
            let s = secrets("HF_TOKEN=hf/token\nX=only");
            assert_eq!(
                (s[0].secret.as_str(), s[0].key.as_str(), s[1].key.as_str()),
                ("hf", "token", "")
            );
            assert_eq!(secrets(&secrets_text(&s)), s);
            let m = mounts("data:/data:ro\nout:/out");
            assert!(m[0].read_only && !m[1].read_only);
            assert_eq!(m[1].path, "/out");
            assert_eq!(mounts(&mounts_text(&m)), m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context {
            namespaces: vec!["team-a".into()],
            models: vec!["NVIDIA-H100-80GB-HBM3".into(), "NVIDIA-L4".into()],
            largest: vec![(GPU.into(), 8), ("nvidia.com/mig-1g.10gb".into(), 16)],
        }
    }

    fn good() -> JobForm {
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

    #[test]
    fn a_complete_form_passes() {
        let checked = validate(&good(), &context()).unwrap();
        assert_eq!(
            (checked.gpus, checked.parallelism, checked.backoff_limit),
            (4, 1, 0)
        );
        for image in [
            "pytorch/pytorch",
            "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
            "localhost:5000/team/train:v1",
            "ghcr.io/org/img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let form = JobForm { image: image.into(), ..good() };
            assert!(validate(&form, &context()).is_ok(), "{image}");
        }
        let mig = JobForm {
            gpu_resource: "nvidia.com/mig-1g.10gb".into(),
            gpus: "16".into(),
            gpu_model: String::new(),
            ..good()
        };
        assert!(validate(&mig, &context()).is_ok());
    }

    /// Each malformed form fails on the named field, and only there.
    #[test]
    fn malformed_input_is_refused_with_the_field_and_the_reason() {
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.into(),
        };
        let cases: Vec<(&str, JobForm, &str, &str)> = vec![
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
                "longer than 4096",
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
        ];
        assert!(cases.len() >= 30);
        for (what, form, field, reason) in cases {
            let errors = validate(&form, &context()).expect_err(what);
            assert_eq!(errors.len(), 1, "{what}: {errors:?}");
            assert_eq!(errors[0].field, field, "{what}: {errors:?}");
            assert!(
                errors[0].reason.contains(reason),
                "{what}: {:?} lacks {reason:?}",
                errors[0].reason
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let form = JobForm {
            name: "".into(),
            image: "".into(),
            gpus: "x".into(),
            ..good()
        };
        let fields: Vec<String> = validate(&form, &context())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "image", "gpus"]);
    }
}
