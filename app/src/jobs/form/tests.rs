//! The launch form's rules, one malformed input at a time.

use super::malformed::good;
use super::*;
use crate::names::GPU;

fn context() -> Context {
    Context {
        namespaces: vec!["team-a".into()],
        models: vec!["NVIDIA-H100-80GB-HBM3".into(), "NVIDIA-L4".into()],
        largest: vec![(GPU.into(), 8), ("nvidia.com/mig-1g.10gb".into(), 16)],
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
        let form = JobForm {
            image: image.into(),
            ..good()
        };
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
    let cases = super::malformed::cases();
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

/// A 1 MB, 10,000-line command was once accepted and created; lists and values are bounded
/// too, each refusal naming its field.
#[test]
fn oversized_input_is_refused_by_field() {
    let line = "x".repeat(99);
    let pair = |i: usize| KeyValue {
        key: format!("K{i}"),
        value: "v".into(),
    };
    let cases: Vec<(JobForm, &str, &str)> = vec![
        (
            JobForm {
                command: vec![line.as_str(); 10_000].join("\n"),
                ..good()
            },
            "command",
            "longer than 64 KiB",
        ),
        (
            JobForm {
                args: vec!["--x"; bounds::WORDS + 1].join("\n"),
                ..good()
            },
            "args",
            "more than 1000 lines",
        ),
        (
            JobForm {
                env: (0..=bounds::ENTRIES).map(pair).collect(),
                ..good()
            },
            "env",
            "more than 100 entries",
        ),
        (
            JobForm {
                env: vec![KeyValue {
                    key: "BIG".into(),
                    value: "v".repeat(bounds::VALUE + 1),
                }],
                ..good()
            },
            "env[0].value",
            "longer than 4 KiB",
        ),
        (
            JobForm {
                hyperparameters: (0..=bounds::ENTRIES).map(pair).collect(),
                ..good()
            },
            "hyperparameters",
            "more than 100 entries",
        ),
        (
            JobForm {
                memory_limit: "9".repeat(300),
                ..good()
            },
            "memory_limit",
            "longer than 256",
        ),
    ];
    for (form, field, reason) in cases {
        let errors = validate(&form, &context()).unwrap_err();
        assert_eq!(errors.len(), 1, "{field}: {errors:?}");
        assert_eq!(errors[0].field, field);
        assert!(errors[0].reason.contains(reason), "{errors:?}");
        assert_eq!(
            too_large(&form),
            errors,
            "templates are held to the same bounds"
        );
    }
}

#[test]
fn the_command_line_is_what_the_container_runs() {
    let mut form = JobForm {
        command: "python\n-m\ntrain".into(),
        args: "--epochs\n3".into(),
        hyperparameters: vec![KeyValue {
            key: "lr".into(),
            value: "3e-4".into(),
        }],
        ..JobForm::default()
    };
    assert_eq!(form.command_line(), "python -m train --epochs 3 --lr=3e-4");
    form.hyperparameters_as = "env".into();
    assert_eq!(form.command_line(), "python -m train --epochs 3");
}
