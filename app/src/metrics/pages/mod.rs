//! The metrics area's views: charts shown inside the pages of the things they are about.

pub mod alerts;
pub mod idle;
pub mod node_charts;
