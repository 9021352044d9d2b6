//! Malformed launch forms: the job itself (name, namespace, image, command), how it runs
//! (parallelism, completions, retries, deadline, TTL) and its MLflow tracking.

use super::{good, Case};
use crate::jobs::form::{JobForm, KeyValue};

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
        (
            "the mlflow-server Service without tracking",
            JobForm {
                tracking_service: true,
                ..good()
            },
            "tracking_service",
            "needs MLflow tracking on",
        ),
    ]
}
