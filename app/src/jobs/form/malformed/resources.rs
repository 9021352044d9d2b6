//! Malformed launch forms: what the job asks for (GPUs, CPU, memory, shared memory) and
//! the volumes it mounts.

use super::{good, Case};
use crate::jobs::form::{JobForm, Mount};

/// Each form is `good()` with one thing wrong.
pub(super) fn cases() -> Vec<Case> {
    vec![
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
    ]
}
