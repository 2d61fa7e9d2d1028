//! The consent ledger (append-only; ledger order decides which record is
//! newest) and customer credentials.

use crate::StoreError;
use crate::identity::new_id;
use crate::keys::hash_key;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// Channels a consent may name; `*` means every channel.
pub const CHANNELS: &[&str] = &[
    "email",
    "sms",
    "push",
    "web",
    "app",
    "in_store",
    "call_centre",
    "*",
];
pub const STATUSES: &[&str] = &["given", "withdrawn", "refused"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    pub purpose: String,
    pub channel: String,
    pub status: String,
    /// What the change rests on (a form id, a call recording, a TC string).
    #[serde(default)]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConsentReceipt {
    pub receipt_id: String,
    pub purpose: String,
    pub channel: String,
    pub status: String,
    pub source: String,
    pub updated_at: String,
    pub profile_id: String,
    pub evidence: Option<String>,
}

impl ConsentChange {
    /// A clear reason when the change is not one the ledger can hold.
    pub fn validate(&self) -> Result<(), String> {
        let valid_purpose = self.purpose.starts_with("dpv:")
            && self.purpose.len() > 4
            && self.purpose.len() <= 128
            && self.purpose[4..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_purpose {
            return Err(format!(
                "purpose `{}` is not a DPV purpose such as `dpv:DirectMarketing`",
                self.purpose
            ));
        }
        if !CHANNELS.contains(&self.channel.as_str()) {
            return Err(format!(
                "channel `{}` is not one of {}",
                self.channel,
                CHANNELS.join(", ")
            ));
        }
        if !STATUSES.contains(&self.status.as_str()) {
            return Err(format!(
                "status `{}` is not one of given, withdrawn, refused",
                self.status
            ));
        }
        if self.evidence.as_ref().is_some_and(|e| e.len() > 4096) {
            return Err("evidence is longer than 4096 bytes".to_string());
        }
        Ok(())
    }
}

/// Append a change for `profile` (a root). Returns its receipt.
pub fn record(
    conn: &Connection,
    ws: &str,
    profile: &str,
    change: &ConsentChange,
    source: &str,
    now: i64,
) -> Result<ConsentReceipt, StoreError> {
    let receipt_id = new_id("rcpt_");
    conn.prepare_cached(
        "INSERT INTO consents (workspace_id, profile_id, purpose, channel, status, source, receipt_id, at, evidence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![ws, profile, change.purpose, change.channel, change.status, source, receipt_id, now, change.evidence])?;
    Ok(ConsentReceipt {
        receipt_id,
        purpose: change.purpose.clone(),
        channel: change.channel.clone(),
        status: change.status.clone(),
        source: source.to_string(),
        updated_at: jiff::Timestamp::from_millisecond(now)
            .map(allele_types::segment::format_time)
            .unwrap_or_default(),
        profile_id: profile.to_string(),
        evidence: change.evidence.clone(),
    })
}

/// A customer bearer token (`ct_…`) or single-use login code (`lc_…`).
pub fn issue_token(
    conn: &Connection,
    ws: &str,
    profile: &str,
    kind: &str,
    expires_at: i64,
) -> Result<String, StoreError> {
    let secret: [u8; 16] = rand::random();
    let prefix = if kind == "login" { "lc_" } else { "ct_" };
    let token = format!("{prefix}{}", hex::encode(secret));
    conn.prepare_cached(
        "INSERT INTO customer_tokens (hash, workspace_id, profile_id, kind, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![hash_key(&token), ws, profile, kind, expires_at])?;
    Ok(token)
}

/// The workspace and profile a live bearer token speaks for.
pub fn token_subject(
    conn: &Connection,
    token: &str,
    now: i64,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT workspace_id, profile_id FROM customer_tokens WHERE hash = ?1 AND kind = 'bearer' AND expires_at > ?2",
        )?
        .query_row(params![hash_key(token), now], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// Spend a login code once: the workspace and profile, or `None` if it is
/// unknown, expired or already used.
pub fn redeem_login(
    conn: &Connection,
    code: &str,
    now: i64,
) -> Result<Option<(String, String)>, StoreError> {
    let found: Option<(String, String)> = conn
        .prepare_cached(
            "UPDATE customer_tokens SET used_at = ?2
             WHERE hash = ?1 AND kind = 'login' AND used_at IS NULL AND expires_at > ?2
             RETURNING workspace_id, profile_id",
        )?
        .query_row(params![hash_key(code), now], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(found)
}
