//! Kubernetes' naming rules and NVIDIA's resource and label names, in one place: the launch
//! form, the URLs' path parameters and the caches check and read them the same way. Pure, so
//! the browser checks as the server does.

/// The resource name of whole GPUs (and of time-sliced replicas) from the NVIDIA plugin.
pub const GPU: &str = "nvidia.com/gpu";
/// MIG slices in mixed mode are resources of their own: `nvidia.com/mig-<profile>`.
pub const MIG_PREFIX: &str = "nvidia.com/mig-";
/// The node label (from GPU feature discovery) naming the GPU model, e.g.
/// `NVIDIA-H100-80GB-HBM3`; jobs select a model with it.
pub const GPU_PRODUCT: &str = "nvidia.com/gpu.product";

/// Whole GPUs or MIG slices: what the inventory counts.
pub fn is_gpu_resource(name: &str) -> bool {
    name == GPU || name.starts_with(MIG_PREFIX)
}

/// A DNS-1123 label (RFC 1123): what namespace names, Job names and most object names must
/// be. At most 63 lower-case letters, digits and '-', starting and ending with a letter or
/// digit.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 in all (node names, Secret and
/// claim names, label prefixes).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// `namespace` and `name` as a URL, a query or a form gives them, checked as Kubernetes
/// names before they reach kube-rs (where `a%2Fb` would become part of the API path, and
/// `a,b!=c` part of a label selector), SQL or a log.
pub fn check_object(namespace: &str, name: &str) -> Result<(), crate::error::AppError> {
    check_namespace("namespace", namespace)?;
    check_name("name", name)
}

/// `value` (the field `field`) as a namespace: a DNS-1123 label.
pub fn check_namespace(field: &str, value: &str) -> Result<(), crate::error::AppError> {
    if is_dns_label(value) {
        Ok(())
    } else {
        Err(crate::error::AppError::invalid(
            field,
            format!("{} is not a namespace name (a DNS-1123 label: at most 63 lower-case letters, digits and '-')", shown(value)),
        ))
    }
}

/// `value` (the field `field`) as an object's name (a Job, a pod, a node): a DNS-1123
/// subdomain.
pub fn check_name(field: &str, value: &str) -> Result<(), crate::error::AppError> {
    if is_dns_subdomain(value) {
        Ok(())
    } else {
        Err(crate::error::AppError::invalid(
            field,
            format!("{} is not an object name (a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.')", shown(value)),
        ))
    }
}

/// A refused value as an error message may quote it: its first 64 characters, escaped.
fn shown(value: &str) -> String {
    let head: String = value.chars().take(64).collect();
    let more = if value.chars().count() > 64 {
        "…"
    } else {
        ""
    };
    format!("{head:?}{more}")
}

/// A C identifier, the portable rule for environment variable names.
pub fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A Secret key: letters, digits, `-`, `_`, `.`; at most 253.
pub fn is_config_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s != "."
        && s != ".."
}

/// The name part of a label key or a label value: at most 63, alphanumerics at both ends,
/// `-`, `_`, `.` inside.
pub fn is_label_name(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

pub fn label_key_problem(key: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc_1123() {
        for good in ["a", "team-a", "x1", &"a".repeat(63)] {
            assert!(is_dns_label(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a.b",
            "a/b",
            "..",
            "a%2f",
            "a\0",
            &"a".repeat(64),
        ] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
        assert!(is_dns_subdomain("gpu-h100-0.zone-a"));
        for bad in ["a..b", ".a", "a/b", "../kube-system", &"a.".repeat(127)] {
            assert!(!is_dns_subdomain(bad), "{bad:?}");
        }
    }

    #[test]
    fn gpu_resources_are_whole_gpus_and_mig_slices() {
        assert!(is_gpu_resource(GPU) && is_gpu_resource("nvidia.com/mig-1g.10gb"));
        assert!(!is_gpu_resource("cpu") && !is_gpu_resource("nvidia.com/gpu.shared"));
    }
}
