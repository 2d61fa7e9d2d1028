//! Workspaces and API keys. Keys are random 128-bit secrets; only their
//! SHA-256 is stored, so a copied database reveals no usable key.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Ingest only; safe to ship in browsers and apps.
    Write,
    /// Server-side decisions and bundle reads (what edges use).
    Decide,
    /// Everything but the customer's own `/v1/me`.
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "write" => Some(Role::Write),
            "decide" => Some(Role::Decide),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Write => "write",
            Role::Decide => "decide",
            Role::Admin => "admin",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Role::Write => "wk_",
            Role::Decide => "dk_",
            Role::Admin => "ak_",
        }
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[derive(Debug, Clone, Serialize)]
pub struct NewWorkspace {
    pub workspace: String,
    pub write_key: String,
    pub admin_key: String,
}

pub fn workspace_exists(conn: &Connection, ws: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM workspaces WHERE id = ?1")?
        .exists([ws])?)
}

pub fn any_workspace(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM workspaces LIMIT 1")?
        .exists([])?)
}

pub fn create_workspace(conn: &Connection, ws: &str, now: i64) -> Result<NewWorkspace, StoreError> {
    let signing_key: [u8; 32] = rand::random();
    conn.execute(
        "INSERT INTO workspaces (id, created_at, signing_key) VALUES (?1, ?2, ?3)",
        params![ws, now, signing_key.to_vec()],
    )?;
    Ok(NewWorkspace {
        workspace: ws.to_string(),
        write_key: create_key(conn, ws, Role::Write, now)?,
        admin_key: create_key(conn, ws, Role::Admin, now)?,
    })
}

pub fn create_key(conn: &Connection, ws: &str, role: Role, now: i64) -> Result<String, StoreError> {
    if !workspace_exists(conn, ws)? {
        return Err(StoreError::Invalid(format!("no workspace `{ws}`")));
    }
    let secret: [u8; 16] = rand::random();
    let key = format!("{}{}", role.prefix(), hex::encode(secret));
    conn.execute(
        "INSERT INTO api_keys (hash, workspace_id, role, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash_key(&key), ws, role.as_str(), &key[..7], now],
    )?;
    Ok(key)
}

/// The workspace and role of a key, if it is known and not revoked.
pub fn lookup_key(conn: &Connection, key: &str) -> Result<Option<(String, Role)>, StoreError> {
    let found: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT workspace_id, role FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL",
        )?
        .query_row([hash_key(key)], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(found.and_then(|(ws, role)| Role::parse(&role).map(|role| (ws, role))))
}
