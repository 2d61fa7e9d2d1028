//! One integration binary (fast to link on few cores), one module per theme.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

mod bad_input;
mod common;
mod conformance;
mod properties;
mod swap;
mod textproto;
