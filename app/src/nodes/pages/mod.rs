//! The nodes area's pages: the overview of the fleet, the nodes table, one node.

pub mod detail;
pub mod list;
pub mod overview;
