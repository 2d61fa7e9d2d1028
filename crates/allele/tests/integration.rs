//! The one integration-test binary: every module below shares it, so the
//! workspace links a single test executable.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code fails loudly"
)]
#[path = "it/common.rs"]
mod common;

#[path = "it/authz.rs"]
mod authz;
#[path = "it/clients.rs"]
mod clients;
#[path = "it/conformance.rs"]
mod conformance;
#[path = "it/console.rs"]
mod console;
#[path = "it/customer.rs"]
mod customer;
#[path = "it/decisions.rs"]
mod decisions;
#[path = "it/demo.rs"]
mod demo;
#[path = "it/durability.rs"]
mod durability;
#[path = "it/evaluate.rs"]
mod evaluate;
#[path = "it/experiments.rs"]
mod experiments;
#[path = "it/grants.rs"]
mod grants;
#[path = "it/identity.rs"]
mod identity;
#[path = "it/import.rs"]
mod import;
#[path = "it/lift.rs"]
mod lift;
#[path = "it/listen.rs"]
mod listen;
#[path = "it/profiles.rs"]
mod profiles;
#[path = "it/segments.rs"]
mod segments;
#[path = "it/webhooks.rs"]
mod webhooks;
