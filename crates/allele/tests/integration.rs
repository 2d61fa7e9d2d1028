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

#[path = "it/abuse.rs"]
mod abuse;
#[path = "it/abuse_bodies.rs"]
mod abuse_bodies;
#[path = "it/apifuzz.rs"]
mod apifuzz;
#[path = "it/authz.rs"]
mod authz;
#[path = "it/bandit.rs"]
mod bandit;
#[path = "it/broadcast_segments.rs"]
mod broadcast_segments;
#[path = "it/browser.rs"]
mod browser;
#[path = "it/clients.rs"]
mod clients;
#[path = "it/computed_traits.rs"]
mod computed_traits;
#[path = "it/concurrent.rs"]
mod concurrent;
#[path = "it/conformance.rs"]
mod conformance;
#[path = "it/console.rs"]
mod console;
#[path = "it/console_browser.rs"]
mod console_browser;
#[path = "it/console_pages.rs"]
mod console_pages;
#[path = "it/console_segments.rs"]
mod console_segments;
#[path = "it/customer.rs"]
mod customer;
#[path = "it/decide_reads.rs"]
mod decide_reads;
#[path = "it/decisions.rs"]
mod decisions;
#[path = "it/demo.rs"]
mod demo;
#[path = "it/demo_browser.rs"]
mod demo_browser;
#[path = "it/durability.rs"]
mod durability;
#[path = "it/edge.rs"]
mod edge;
#[path = "it/edge_learning.rs"]
mod edge_learning;
#[path = "it/edge_support.rs"]
mod edge_support;
#[path = "it/email.rs"]
mod email;
#[path = "it/evaluate.rs"]
mod evaluate;
#[path = "it/experiments.rs"]
mod experiments;
#[path = "it/faults.rs"]
mod faults;
#[path = "it/fuzz_corpus.rs"]
mod fuzz_corpus;
#[path = "it/grants.rs"]
mod grants;
#[path = "it/guard.rs"]
mod guard;
#[path = "it/identity.rs"]
mod identity;
#[path = "it/import.rs"]
mod import;
#[path = "it/journeys.rs"]
mod journeys;
#[path = "it/learning.rs"]
mod learning;
#[path = "it/lift.rs"]
mod lift;
#[path = "it/listen.rs"]
mod listen;
#[path = "it/paths.rs"]
mod paths;
#[path = "it/portal.rs"]
mod portal;
#[path = "it/profiles.rs"]
mod profiles;
#[path = "it/readout_facts.rs"]
mod readout_facts;
#[path = "it/referrals.rs"]
mod referrals;
#[path = "it/segment_changes.rs"]
mod segment_changes;
#[path = "it/segments.rs"]
mod segments;
#[path = "it/simulate.rs"]
mod simulate;
#[path = "it/webhooks.rs"]
mod webhooks;
