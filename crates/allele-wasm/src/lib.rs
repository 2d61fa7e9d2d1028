//! allele's engine in the browser: a thin wasm-bindgen shell over
//! `allele-engine`, with no decision logic of its own.
//!
//! Two faces, as the engine has:
//! - typed: [`verify_bundle`] checks a signed bundle (the body of
//!   `GET /v1/bundles/latest`) against the workspace public key and returns a
//!   [`VerifiedBundle`], whose [`VerifiedBundle::decide`] takes a decision
//!   input as JSON text and answers the decision as JSON text — the same
//!   document the server's `POST /v1/decide` answers for the same input;
//! - `_json_str`: [`verify_json`] and [`decide_json`] never throw and answer
//!   `{"type":"success",…}` or `{"type":"failure","errors":[…]}`.
//!
//! Decisions cross the boundary as text, not JS objects: no float or 64-bit
//! integer is ever rounded by a JavaScript number on the way, so a browser
//! decision can be compared byte for byte with the server's. For the same
//! reason a `seed` may be sent as a decimal string (JavaScript numbers stop
//! being exact at 2^53; server seeds use all 64 bits).

use allele_engine::{Bundle, DecisionInput, SignedBundle, ffi, sign};
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// A bundle whose signature verified and which compiled, ready to decide.
#[wasm_bindgen]
pub struct VerifiedBundle {
    bundle: Bundle,
}

#[wasm_bindgen]
impl VerifiedBundle {
    /// The bundle's version (small; exact as a JavaScript number).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.bundle.version() as f64
    }

    /// Decides for one input (`{"profile","request","now_ms","seed",…}` as
    /// JSON text) and answers the decision as JSON text; throws on input the
    /// engine cannot read.
    pub fn decide(&self, input_json: &str) -> Result<String, JsError> {
        decide_text(&self.bundle, input_json).map_err(|message| JsError::new(&message))
    }
}

/// Verifies `signed_json` (`{"version","signature","bundle",…}`) against the
/// hex ed25519 public key and compiles it; throws with the reason when the
/// bundle is unsigned, altered, signed by another key or malformed.
#[wasm_bindgen(js_name = verifyBundle)]
pub fn verify_bundle(signed_json: &str, public_key_hex: &str) -> Result<VerifiedBundle, JsError> {
    verify_text(signed_json, public_key_hex)
        .map(|bundle| VerifiedBundle { bundle })
        .map_err(|message| JsError::new(&message))
}

/// The engine's `verify_json_str`: `{"signed", "public_key"}` in, never throws.
#[wasm_bindgen(js_name = verifyJson)]
pub fn verify_json(input: &str) -> String {
    ffi::verify_json_str(input)
}

/// The engine's `decide_json_str`: `{"bundle", "input"}` in, never throws.
#[wasm_bindgen(js_name = decideJson)]
pub fn decide_json(input: &str) -> String {
    match serde_json::from_str::<Value>(input) {
        Ok(mut call) => {
            if let Some(decision_input) = call.get_mut("input")
                && let Err(message) = seed_from_string(decision_input)
            {
                return serde_json::json!({"type": "failure", "errors": [{"code": "invalid_input", "message": message}]}).to_string();
            }
            ffi::decide_json(call).to_string()
        }
        Err(_) => ffi::decide_json_str(input),
    }
}

/// The version of the engine inside, for diagnostics.
#[wasm_bindgen(js_name = engineVersion)]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Verification without JavaScript types, so it is testable natively.
pub fn verify_text(signed_json: &str, public_key_hex: &str) -> Result<Bundle, String> {
    let signed: SignedBundle = serde_json::from_str(signed_json).map_err(|err| {
        format!("not a signed bundle (`{{\"version\",\"signature\",\"bundle\"}}`): {err}")
    })?;
    let key = sign::from_hex(public_key_hex.trim())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| "the public key must be 32 bytes of hex".to_string())?;
    sign::verify(&signed, &key).map_err(|err| format!("bundle refused: {err}"))
}

/// One decision, JSON text in and out.
pub fn decide_text(bundle: &Bundle, input_json: &str) -> Result<String, String> {
    let mut value: Value = serde_json::from_str(input_json)
        .map_err(|err| format!("decision input is not JSON: {err}"))?;
    seed_from_string(&mut value)?;
    let input: DecisionInput =
        serde_json::from_value(value).map_err(|err| format!("invalid decision input: {err}"))?;
    let decision = allele_engine::decide(bundle, &input);
    serde_json::to_string(&decision).map_err(|err| format!("decision did not serialise: {err}"))
}

/// Accepts `"seed": "18446744073709551615"` as well as a JSON number.
fn seed_from_string(input: &mut Value) -> Result<(), String> {
    let Some(seed) = input.get_mut("seed") else {
        return Ok(());
    };
    if let Value::String(text) = seed {
        let parsed: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`seed` must be a whole number from 0 to 2^64-1, got `{text}`"))?;
        *seed = Value::from(parsed);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
