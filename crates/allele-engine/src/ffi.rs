//! Three faces per operation, as Cedar's `ffi` module does: the typed
//! function (in its own module), a `_json` face taking and answering
//! `serde_json::Value`, and a `_json_str` face over strings — so a wasm or
//! other-language wrapper is a thin shell with no logic of its own.
//!
//! Every answer is `{"type": "success", …}` or `{"type": "failure",
//! "errors": [{"message", …}]}`; malformed input is a failure, never a panic.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::bundle::{Bundle, BundleDoc};
use crate::decide::{DecisionInput, decide};
use crate::diagnostic::Diagnostic;
use crate::sign::{SignedBundle, from_hex, verify};

fn failure(errors: Vec<Diagnostic>) -> Value {
    json!({"type": "failure", "errors": errors})
}

fn failure_message(code: &str, message: String) -> Value {
    failure(vec![Diagnostic::new(code, message)])
}

fn parse<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, Value> {
    serde_json::from_value(value)
        .map_err(|err| failure_message("invalid_input", format!("invalid input: {err}")))
}

fn via_str(input: &str, face: impl FnOnce(Value) -> Value) -> String {
    let answer = match serde_json::from_str::<Value>(input) {
        Ok(value) => face(value),
        Err(err) => failure_message("invalid_json", format!("invalid JSON: {err}")),
    };
    answer.to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckCall {
    policy: String,
    #[serde(default)]
    known_traits: Vec<String>,
}

/// `{"policy": YAML, "known_traits": [..]}` → `{"type":"success","warnings":[..]}`.
pub fn check_json(input: Value) -> Value {
    let call: CheckCall = match parse(input) {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    match crate::check(&call.policy, &call.known_traits) {
        Ok(report) => json!({"type": "success", "warnings": report.warnings}),
        Err(errors) => failure(errors),
    }
}

pub fn check_json_str(input: &str) -> String {
    via_str(input, check_json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompileCall {
    policy: String,
    version: u64,
    #[serde(default)]
    known_traits: Vec<String>,
}

/// `{"policy", "version", "known_traits"}` → `{"type":"success","bundle":{..},"warnings":[..]}`.
pub fn compile_json(input: Value) -> Value {
    let call: CompileCall = match parse(input) {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    match crate::compile(&call.policy, call.version, &call.known_traits) {
        Ok(output) => {
            json!({"type": "success", "bundle": output.bundle.doc(), "warnings": output.warnings})
        }
        Err(errors) => failure(errors),
    }
}

pub fn compile_json_str(input: &str) -> String {
    via_str(input, compile_json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideCall {
    bundle: BundleDoc,
    input: DecisionInput,
}

/// `{"bundle": BundleDoc, "input": DecisionInput}` → `{"type":"success","decision":{..}}`.
/// Compiles the bundle on every call; hold a [`Bundle`] and use
/// [`decide_with_bundle_json`] to decide many times.
pub fn decide_json(input: Value) -> Value {
    let call: DecideCall = match parse(input) {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    match Bundle::load(call.bundle) {
        Ok(bundle) => json!({"type": "success", "decision": decide(&bundle, &call.input)}),
        Err(errors) => failure(errors),
    }
}

pub fn decide_json_str(input: &str) -> String {
    via_str(input, decide_json)
}

/// A `DecisionInput` as JSON, against an already loaded bundle.
pub fn decide_with_bundle_json(bundle: &Bundle, input: Value) -> Value {
    match parse::<DecisionInput>(input) {
        Ok(input) => json!({"type": "success", "decision": decide(bundle, &input)}),
        Err(answer) => answer,
    }
}

pub fn decide_with_bundle_json_str(bundle: &Bundle, input: &str) -> String {
    via_str(input, |value| decide_with_bundle_json(bundle, value))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyCall {
    signed: SignedBundle,
    /// Hex of the 32-byte ed25519 public key.
    public_key: String,
}

/// `{"signed": SignedBundle, "public_key": hex}` → `{"type":"success","bundle":{..}}`.
pub fn verify_json(input: Value) -> Value {
    let call: VerifyCall = match parse(input) {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let Some(key) = from_hex(&call.public_key).and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
    else {
        return failure_message(
            "invalid_input",
            "`public_key` must be 32 bytes of hex".to_string(),
        );
    };
    match verify(&call.signed, &key) {
        Ok(bundle) => json!({"type": "success", "bundle": bundle.doc()}),
        Err(err) => failure_message("bundle", err.to_string()),
    }
}

pub fn verify_json_str(input: &str) -> String {
    via_str(input, verify_json)
}

#[cfg(test)]
mod tests;
