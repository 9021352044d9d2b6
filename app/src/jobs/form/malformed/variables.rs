//! Malformed launch forms: environment variables and Secret references, labels,
//! annotations and hyperparameters.

use super::{good, Case};
use crate::jobs::form::{JobForm, KeyValue, SecretRef};

/// Each form is `good()` with one thing wrong.
pub(super) fn cases() -> Vec<Case> {
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: v.into(),
    };
    vec![
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
    ]
}
