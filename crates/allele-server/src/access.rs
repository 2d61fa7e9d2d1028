//! The customer-verifiable access log: every read of a profile appends a
//! leaf; `GET /v1/me/access-log` returns the customer's entries with RFC 6962
//! inclusion proofs and a signed tree head that `allele-privacy`'s verifier
//! (or any CT-style client) can check against `GET /v1/transparency/key`.

use crate::AppState;
use crate::error::HttpError;
use allele_privacy::merkle::entry::{AccessLogResponse, InclusionProof, ProvenEntry};
use allele_privacy::merkle::sth::SignedTreeHead;
use allele_privacy::merkle::tree::MerkleLog;
use allele_store::{access, bundles, now_ms, read};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

impl AppState {
    /// Append a read of `subject` (a profile id) to the workspace's log.
    pub async fn log_access(
        &self,
        ws: &str,
        actor: String,
        action: &'static str,
        purpose: impl Into<String>,
        subject: String,
    ) -> Result<(), HttpError> {
        let ws = ws.to_string();
        let purpose: String = purpose.into();
        self.store
            .write(1, move |conn| {
                access::append(conn, &ws, now_ms(), &actor, action, &purpose, &subject)
            })
            .await?;
        Ok(())
    }
}

fn to_hex(hash: &[u8; 32]) -> String {
    hex::encode(hash)
}

pub async fn me_access_log(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<AccessLogResponse>, HttpError> {
    let customer = state.customer(&headers).await?;
    // Reading the log is itself a read, and shows in the answer.
    state
        .log_access(
            &customer.workspace,
            "customer".into(),
            "read_access_log",
            "dpv:ServiceProvision",
            customer.root.clone(),
        )
        .await?;
    let (ws, root) = (customer.workspace.clone(), customer.root.clone());
    let (leaves, entries, secret) = state
        .store
        .read(move |conn| {
            let members = read::members(conn, &root)?;
            Ok((
                access::leaf_hashes(conn, &ws)?,
                access::entries_about(conn, &ws, &members)?,
                bundles::signing_key(conn, &ws)?,
            ))
        })
        .await?;
    let log = MerkleLog::from_leaf_hashes(leaves);
    let size = log.len();
    let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
    let tree_head = SignedTreeHead::sign(size, &log.root(), now_ms().max(0) as u64, &signing);
    let mut proven = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = log.inclusion_proof(entry.index, size).map_err(|err| {
            HttpError::new(Code::Internal, format!("access log proof failed: {err}"))
        })?;
        let leaf_hash = to_hex(&entry.leaf_hash());
        proven.push(ProvenEntry {
            entry,
            leaf_hash,
            proof: InclusionProof::from_hashes(size, &path),
        });
    }
    Ok(Json(AccessLogResponse {
        entries: proven,
        tree_head,
    }))
}

/// The workspace of any credential: a customer token or an api key.
async fn any_workspace(state: &AppState, headers: &HeaderMap) -> Result<String, HttpError> {
    match state.customer(headers).await {
        Ok(customer) => Ok(customer.workspace),
        Err(_) => {
            let key = crate::auth::header_key(headers)?.ok_or_else(|| {
                HttpError::new(Code::MissingAuth, "send a customer token or an api key")
            })?;
            Ok(state.principal(&key).await?.workspace)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    first: Option<u64>,
    second: Option<u64>,
}

/// `GET /v1/transparency/consistency?first=M[&second=N]`: the RFC 6962
/// consistency proof that the tree of `N` leaves (default: the current one)
/// extends the tree of `M`, and the signed head of the tree of `N`. With two
/// signed heads a client checks the log only grew
/// (`allele_privacy::merkle::entry::verify_tree_heads_consistent`).
pub async fn consistency(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ConsistencyQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let ws = any_workspace(&state, &headers).await?;
    let Some(first) = query.first else {
        return Err(HttpError::new(
            Code::InvalidQuery,
            "`first` (the older tree size) is required",
        ));
    };
    let (leaves, secret) = state
        .store
        .read(move |conn| {
            Ok((
                access::leaf_hashes(conn, &ws)?,
                bundles::signing_key(conn, &ws)?,
            ))
        })
        .await?;
    let log = MerkleLog::from_leaf_hashes(leaves);
    let second = query.second.unwrap_or(log.len());
    let bad = |err: allele_privacy::merkle::MerkleError| {
        HttpError::new(Code::InvalidQuery, err.to_string())
    };
    let proof = log.consistency_proof(first, second).map_err(bad)?;
    let root = log.root_at(second).map_err(bad)?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
    let tree_head = SignedTreeHead::sign(second, &root, now_ms().max(0) as u64, &signing);
    Ok(Json(json!({
        "first": first,
        "second": second,
        "consistency": proof.iter().map(to_hex).collect::<Vec<_>>(),
        "tree_head": tree_head,
    })))
}

/// `GET /v1/transparency/key`: the key tree heads are signed with. Any
/// credential of the workspace may read it.
pub async fn transparency_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let ws = any_workspace(&state, &headers).await?;
    let secret = state
        .store
        .read(move |conn| bundles::signing_key(conn, &ws))
        .await?;
    let public = ed25519_dalek::SigningKey::from_bytes(&secret)
        .verifying_key()
        .to_bytes();
    Ok(Json(
        json!({"public_key": STANDARD.encode(public), "public_key_hex": hex::encode(public), "algorithm": "ed25519"}),
    ))
}
