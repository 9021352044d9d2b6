//! The launch form's checks: every field at once, each problem named by its field, the
//! numbers and quantities parsed for the manifest.

use super::{bounds, Checked, Context, FieldError, JobForm};
use crate::names::{
    is_config_key, is_dns_label, is_dns_subdomain, is_env_name, is_label_name, label_key_problem,
    GPU, MIG_PREFIX,
};

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

/// The fields over the form's [`bounds`]: checked before anything else, and on their own
/// for templates, which may be half filled in but not unbounded.
pub fn too_large(form: &JobForm) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, text) in [("command", &form.command), ("args", &form.args)] {
        if text.len() > bounds::TEXT {
            errors.push(FieldError::new(
                field,
                format!("longer than {} KiB", bounds::TEXT / 1024),
            ));
        } else if text.lines().count() > bounds::WORDS {
            errors.push(FieldError::new(
                field,
                format!("more than {} lines", bounds::WORDS),
            ));
        }
    }
    let lists = [
        ("env", form.env.len()),
        ("secret_env", form.secret_env.len()),
        ("mounts", form.mounts.len()),
        ("labels", form.labels.len()),
        ("annotations", form.annotations.len()),
        ("hyperparameters", form.hyperparameters.len()),
    ];
    for (field, entries) in lists {
        if entries > bounds::ENTRIES {
            errors.push(FieldError::new(
                field,
                format!("more than {} entries", bounds::ENTRIES),
            ));
        }
    }
    let values = [
        ("env", &form.env),
        ("annotations", &form.annotations),
        ("hyperparameters", &form.hyperparameters),
    ];
    for (field, pairs) in values {
        for (i, pair) in pairs.iter().enumerate().take(bounds::ENTRIES) {
            if pair.value.len() > bounds::VALUE {
                errors.push(FieldError::new(
                    format!("{field}[{i}].value"),
                    format!("longer than {} KiB", bounds::VALUE / 1024),
                ));
            }
        }
    }
    let short = [
        ("name", &form.name),
        ("namespace", &form.namespace),
        ("gpus", &form.gpus),
        ("gpu_model", &form.gpu_model),
        ("gpu_resource", &form.gpu_resource),
        ("cpu_request", &form.cpu_request),
        ("cpu_limit", &form.cpu_limit),
        ("memory_request", &form.memory_request),
        ("memory_limit", &form.memory_limit),
        ("shm_size", &form.shm_size),
        ("parallelism", &form.parallelism),
        ("completions", &form.completions),
        ("backoff_limit", &form.backoff_limit),
        ("active_deadline_seconds", &form.active_deadline_seconds),
        (
            "ttl_seconds_after_finished",
            &form.ttl_seconds_after_finished,
        ),
        ("hyperparameters_as", &form.hyperparameters_as),
        ("experiment", &form.experiment),
    ];
    for (field, text) in short {
        if text.len() > 256 {
            errors.push(FieldError::new(field, "longer than 256 characters"));
        }
    }
    errors
}

/// Checks every field; all problems at once, so the form can show each beside its field.
pub fn validate(form: &JobForm, context: &Context) -> Result<Checked, Vec<FieldError>> {
    let oversized = too_large(form);
    if !oversized.is_empty() {
        return Err(oversized);
    }
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
    let mig_profile = resource.strip_prefix(MIG_PREFIX);
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
        } else if form.tracking && super::TRACKING_ENV.contains(&name.as_str()) {
            fail(
                &field,
                "set by tracking; turn tracking off to set it yourself",
            );
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
    if form.tracking {
        let experiment = form.experiment.trim();
        if experiment.is_empty() {
            fail(
                "experiment",
                "name the MLflow experiment the job's run goes to",
            );
        } else if experiment.chars().any(char::is_control) {
            fail("experiment", "one line, without control characters");
        }
    } else if form.tracking_service {
        fail(
            "tracking_service",
            "needs MLflow tracking on: the Service leads to Gantry's MLflow server",
        );
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
