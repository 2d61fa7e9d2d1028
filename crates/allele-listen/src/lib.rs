#![doc = include_str!("../README.md")]
//!
//! ## Map
//!
//! - [`vader`] holds [`polarity_scores`] and its [`Scores`].
//! - [`wilson`] holds [`wilson_lower_bound`].
//! - [`graph`] holds [`Graph`], [`Graph::pagerank`] and [`Graph::reach`].
//!
//! Everything here is pure and deterministic; the server and CLI feed it.

pub mod graph;
pub mod vader;
pub mod wilson;

// the tests' Python runner, shared with the unit tests
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod python_reference;

pub use graph::{Graph, GraphError, PageRankOptions};
pub use vader::{Scores, polarity_scores, polarity_scores_many};
pub use wilson::{WilsonError, wilson_lower_bound};
