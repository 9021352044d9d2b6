//! The jobs area's pages: the list, the launch form, one job.

pub mod detail;
pub mod launch;
pub mod list;
