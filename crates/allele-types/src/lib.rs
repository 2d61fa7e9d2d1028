//! Wire types shared by every allele crate: Segment-Spec messages, the error
//! table, and profile references. No I/O.

pub mod error;
pub mod profile_ref;
pub mod segment;

pub use error::{ApiError, Code, ErrorType};
