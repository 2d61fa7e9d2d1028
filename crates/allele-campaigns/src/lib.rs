//! I/O-free campaign logic: Liquid templates checked when saved and
//! rendered when sent, signed one-click unsubscribe and click-tracking
//! links, journey definitions and the step machine that advances a
//! journey run. Nothing here reads a clock, a socket or a file: the server
//! passes times in and applies the effects the machine returns.

pub mod anniversary;
pub mod journey;
pub mod links;
pub mod machine;
pub mod template;

pub use journey::{JourneyDef, parse_duration};
pub use machine::{Effect, Env, RunState, RunStatus, advance};
pub use template::{EmailTemplate, TemplateError};
