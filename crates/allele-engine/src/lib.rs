//! allele's decision engine: CEL rules compiled to typed slots, policy
//! bundles (compile, check, sign, verify), the consent gate, caps, holdout
//! hashing, arbitration and selection. No I/O: time, randomness seeds and
//! keys come in as arguments, so the same code runs on the server and, as
//! wasm, at the edge.
//!
//! The operations, each a typed function (plus `_json` and `_json_str`
//! faces in [`ffi`]):
//!
//! - [`check`] a policy file, [`compile`] it into a [`Bundle`];
//! - [`sign`] and [`verify`] bundles ([`SignedBundle`]), and swap the
//!   active one atomically ([`Registry`]);
//! - [`decide`] for one customer ([`DecisionInput`] → [`Decision`]);
//! - [`holdout::holdout_slot`] / [`holdout::is_held_out`], the published
//!   holdout hash.
#![doc = include_str!("../README.md")]

pub mod bundle;
pub mod cel;
pub mod check;
pub mod decide;
pub mod diagnostic;
pub mod ffi;
pub mod holdout;
pub mod linear;
pub mod policy;
pub mod registry;
pub mod rng;
pub mod select;
pub mod sign;
mod suggest;

pub use bundle::{Bundle, BundleDoc, Kind, Selection};
pub use check::{CompileOutput, check, compile};
pub use decide::{
    ArmStats, ChosenAction, ConsentRecord, ConsentStatus, CustomerCaps, Decision, DecisionInput,
    DecisionRequest, Features, ProfileView, Stage, TraceEntry, decide,
};
pub use diagnostic::{CheckReport, Diagnostic};
pub use registry::{ActiveBundle, Registry};
pub use sign::{BundleError, SignedBundle, public_key, sign, verify};
pub use suggest::{closest, did_you_mean};
