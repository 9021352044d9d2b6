//! The metrics area's views, shown inside the pages of the things they are about: chart
//! sections (node, job, fleet), the "allocated but idle" table, alerts and the header's
//! alert count.

pub mod alerts;
pub mod charts;
pub mod idle;
