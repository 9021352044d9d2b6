//! Support shared by the integration tests. Each test binary compiles its own copy and uses
//! only part of it, so unused items are expected here.
#![allow(dead_code)]

pub mod cluster;
pub mod server;
