//! Support shared by the integration tests: the local cluster and a namespace per test
//! (`cluster`), Gantry on a free port (`server`), and the objects several tests create
//! (`fixtures`).

pub mod cluster;
pub mod fixtures;
pub mod server;
