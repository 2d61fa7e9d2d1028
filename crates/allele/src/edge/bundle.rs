//! The edge's bundle: pulled from `GET /v1/bundles/latest` with long-poll,
//! verified against the pinned workspace key, and kept (on disk and in
//! memory) only when it verifies. A tampered or unsigned bundle is refused
//! and logged; the last good one keeps serving, across restarts too.
//!
//! Key pinning: `--public-key` wins; otherwise the key the centre reports
//! on first contact is pinned in the data dir (trust on first use), so a
//! centre or proxy that later signs with another key is refused.

use super::{Edge, LocalBundle};
use allele_engine::SignedBundle;
use allele_store::edge::{state_get, state_set};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const KEY_STATE: &str = "public_key";
const BUNDLE_STATE: &str = "bundle";
/// Seconds the centre may hold a long-poll; the client waits a bit longer.
const LONG_POLL_SECONDS: u64 = 25;

pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|_| format!("public key `{text}` is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| format!("public key `{text}` is not 32 bytes"))
}

/// Pin the key (flag, else the one stored) and load the last good bundle.
pub async fn load(edge: &Arc<Edge>, flag: Option<[u8; 32]>) -> Result<(), String> {
    let (stored_key, stored_bundle) = edge
        .store
        .read(|conn| Ok((state_get(conn, KEY_STATE)?, state_get(conn, BUNDLE_STATE)?)))
        .await
        .map_err(|err| err.to_string())?;
    let pinned = match (flag, stored_key) {
        (Some(key), stored) => {
            let text = hex::encode(key);
            if stored.as_deref() != Some(text.as_str()) {
                edge.store
                    .write(1, move |conn| state_set(conn, KEY_STATE, &text))
                    .await
                    .map_err(|err| err.to_string())?;
            }
            Some(key)
        }
        (None, Some(text)) => Some(parse_key(&text)?),
        (None, None) => None,
    };
    if let Ok(mut slot) = edge.public_key.write() {
        *slot = pinned;
    }
    let Some(text) = stored_bundle else {
        return Ok(());
    };
    // Re-verified on every start: a cache edited on disk is refused too.
    match verify_text(edge, &text) {
        Ok(local) => {
            tracing::info!(
                version = local.version,
                "serving the last good bundle from disk"
            );
            install(edge, local);
        }
        Err(err) => tracing::error!(error = %err, "cached bundle refused; waiting for the centre"),
    }
    Ok(())
}

fn install(edge: &Edge, local: LocalBundle) {
    if let Ok(mut slot) = edge.bundle.write() {
        *slot = Some(Arc::new(local));
    }
}

/// Verify a bundle as the centre serves it (`{version, signature, bundle,
/// workspace}`) against the pinned key.
fn verify_text(edge: &Edge, text: &str) -> Result<LocalBundle, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|err| format!("bundle is not json: {err}"))?;
    let signed = SignedBundle {
        version: value["version"].as_u64().ok_or("bundle has no `version`")?,
        signature: value["signature"].as_str().unwrap_or_default().to_string(),
        bundle: value["bundle"]
            .as_str()
            .ok_or("bundle has no `bundle` text")?
            .to_string(),
    };
    let key = edge
        .public_key
        .read()
        .ok()
        .and_then(|k| *k)
        .ok_or("no public key is pinned yet")?;
    let bundle = allele_engine::verify(&signed, &key)
        .map_err(|err| format!("bundle {} refused: {err}", signed.version))?;
    Ok(LocalBundle {
        version: signed.version,
        bundle,
        workspace: value["workspace"].as_str().unwrap_or_default().to_string(),
    })
}

/// Pin the centre's key on first contact (when none is pinned yet).
async fn ensure_key(edge: &Edge) -> Result<(), String> {
    if edge.public_key.read().ok().and_then(|k| *k).is_some() {
        return Ok(());
    }
    let response = edge
        .http
        .get(edge.url("/v1/bundles/key"))
        .bearer_auth(&edge.key)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|err| format!("cannot reach the centre: {err}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "the centre answered {} for its key",
            response.status()
        ));
    }
    let body: Value = response.json().await.map_err(|err| err.to_string())?;
    let text = body["public_key"]
        .as_str()
        .ok_or("no `public_key` in the answer")?;
    let key = parse_key(text)?;
    let text = hex::encode(key);
    edge.store
        .write(1, move |conn| state_set(conn, KEY_STATE, &text))
        .await
        .map_err(|err| err.to_string())?;
    if let Ok(mut slot) = edge.public_key.write() {
        *slot = Some(key);
    }
    tracing::info!(key = %hex::encode(key), "pinned the workspace bundle key on first contact");
    Ok(())
}

/// One long-poll. `known` is the ETag the edge holds (or last refused).
async fn pull_once(edge: &Arc<Edge>, known: &mut Option<String>) -> Result<(), String> {
    ensure_key(edge).await?;
    let mut request = edge
        .http
        .get(edge.url(&format!("/v1/bundles/latest?wait={LONG_POLL_SECONDS}")))
        .bearer_auth(&edge.key)
        .timeout(Duration::from_secs(LONG_POLL_SECONDS + 15));
    if let Some(tag) = known.as_deref() {
        request = request.header("if-none-match", tag);
    }
    let response = request
        .send()
        .await
        .map_err(|err| format!("cannot reach the centre: {err}"))?;
    let status = response.status().as_u16();
    if status == 304 {
        return Ok(());
    }
    if status != 200 {
        return Err(format!("the centre answered {status} for the bundle"));
    }
    let tag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.map_err(|err| err.to_string())?;
    match verify_text(edge, &text) {
        Ok(local) => {
            let version = local.version;
            // Keep only the fields verification needs (and the workspace).
            let value: Value = serde_json::from_str(&text).map_err(|err| err.to_string())?;
            let kept = json!({
                "version": value["version"], "signature": value["signature"],
                "bundle": value["bundle"], "workspace": value["workspace"],
            })
            .to_string();
            edge.store
                .write(1, move |conn| state_set(conn, BUNDLE_STATE, &kept))
                .await
                .map_err(|err| err.to_string())?;
            install(edge, local);
            *known = tag.or_else(|| Some(format!("\"v{version}\"")));
            tracing::info!(version, "bundle verified and installed");
        }
        Err(err) => {
            tracing::error!(error = %err, "refused a bundle from the centre; the last good one keeps serving");
            // Wait for a newer one rather than fetching the same again.
            *known = tag;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(())
}

pub async fn pull_loop(edge: Arc<Edge>) {
    let mut known = edge.current_bundle().map(|b| format!("\"v{}\"", b.version));
    let mut failures = 0u32;
    loop {
        match pull_once(&edge, &mut known).await {
            Ok(()) => failures = 0,
            Err(err) => {
                failures += 1;
                tracing::warn!(error = %err, failures, "bundle pull failed; retrying");
                tokio::time::sleep(super::sync::backoff(failures)).await;
            }
        }
    }
}
