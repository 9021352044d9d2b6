//! Gantry's integration tests, in one binary (one link per change instead of one per file):
//! the server on a free port (`server`, `hostile`, `assets`) and its database (`database`, run on
//! SQLite and again on PostgreSQL by the test command), and, when `GANTRY_TEST_KUBECONFIG` names
//! the local cluster that `make test` starts, the GPU inventory, live streams and their
//! access checks, jobs, two replicas' failover, impersonation and the metrics from its
//! Prometheus against it,
//! charts from a Prometheus of known, backfilled series, and `k8s/`'s overlays validated by
//! its API server.
//! The model registry: the real MLflow client against it, its artifact limits and its JSON
//! API (`models`), and the Models pages' comparisons, descriptions and lineage (`model_pages`).
//! Optimisation jobs, from a version to a child version (`optimise`). The artifact store on
//! the S3-compatible server the test command starts beside the suite (`artifacts_s3`).
//! `common` starts what they share.

mod artifacts_s3;
mod assets;
mod common;
mod database;
mod failover;
mod gpu_inventory;
mod gpu_live;
mod hostile;
mod impersonation;
mod job_metrics;
mod jobs;
mod local_cluster;
mod manifests;
mod metrics;
mod metrics_backfill;
mod model_pages;
mod models;
mod optimise;
mod server;
mod serving;
mod stream_access;
mod tracking_service;
