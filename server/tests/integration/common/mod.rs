//! Support shared by the integration tests: the local cluster and a namespace per test
//! (`cluster`), Gantry on a free port (`server`) with its database (`database`), and the
//! objects several tests create (`fixtures`).

pub mod cluster;
pub mod database;
pub mod fixtures;
pub mod server;
