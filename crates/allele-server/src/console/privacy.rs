//! `GET /privacy`: the consent ledger per purpose, channel and status, and
//! the access log's size with a freshly signed tree head (the same head
//! customers verify their inclusion proofs against).

use super::{Chrome, Console, render, time_text};
use crate::AppState;
use crate::error::HttpError;
use allele_privacy::merkle::sth::SignedTreeHead;
use allele_privacy::merkle::tree::MerkleLog;
use allele_store::console::ConsentCount;
use allele_store::{access, bundles, now_ms};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    page: Chrome,
    consents: Vec<ConsentCount>,
    tree_size: String,
    root_hash: String,
    signed_at: String,
    signature: String,
}

pub async fn privacy(
    State(state): State<Arc<AppState>>,
    console: Console,
) -> Result<Response, HttpError> {
    let ws = console.workspace.clone();
    let (consents, leaves, secret) = state
        .store
        .read(move |conn| {
            Ok((
                allele_store::console::consent_counts(conn, &ws)?,
                access::leaf_hashes(conn, &ws)?,
                bundles::signing_key(conn, &ws)?,
            ))
        })
        .await?;
    let log = MerkleLog::from_leaf_hashes(leaves);
    let now = now_ms();
    let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
    let head = SignedTreeHead::sign(log.len(), &log.root(), now.max(0) as u64, &signing);
    let head = serde_json::to_value(&head).unwrap_or_default();
    let field = |name: &str| match &head[name] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    render(&PrivacyPage {
        page: console.chrome("Consent & access", "/privacy"),
        consents,
        tree_size: field("tree_size"),
        root_hash: field("root_hash"),
        signed_at: time_text(now),
        signature: field("signature"),
    })
}
