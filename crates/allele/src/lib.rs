//! The `allele` binary's library half: the CLI and the offline importer, kept
//! in a library so that tests and fuzz targets can reach them.

pub mod cli;
pub mod demo;
pub mod demo_edges;
pub mod demo_story;
pub mod edge;
pub mod evaluate;
pub mod import;
pub mod limits;
pub mod mapping;
pub mod policy;
pub mod report;
pub mod sentiment;
pub mod simulate;
