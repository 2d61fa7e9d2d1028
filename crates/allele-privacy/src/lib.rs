//! Privacy logic for allele, with no I/O: everything here is a pure function
//! of its inputs (time is passed in as milliseconds), so it runs the same on a
//! server, in an edge worker and in `wasm32-unknown-unknown`.
//!
//! - [`merkle`]: the customer-verifiable access log (RFC 6962 / 9162).
//! - [`tcf`]: IAB TCF v2.2 TC string decoding and the TCF → DPV purpose map.
//! - [`consent`]: the DPV purpose hierarchy, the consent ledger's effective
//!   status, the marketing/transactional gate, GPC and consent receipts.
//! - [`limits`]: customer contact caps, quiet hours (DST-correct) and scheduling.
//! - [`grants`]: customer data grants as Cedar policies, and their checks.
//! - [`intents`]: stated intents (schema.org `Demand`-like) and who may see them.

pub mod consent;
pub mod grants;
pub mod intents;
pub mod limits;
pub mod merkle;
pub mod tcf;
