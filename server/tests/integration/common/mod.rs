//! Support shared by the integration tests: the local cluster and a namespace per test
//! (`cluster`), Gantry on a free port (`server`) with its database (`database`), the
//! objects several tests create (`fixtures`), and a folder of the S3-compatible server (`s3`).

pub mod cluster;
pub mod database;
pub mod fixtures;
pub mod s3;
pub mod server;
