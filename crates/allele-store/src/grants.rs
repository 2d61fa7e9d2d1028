//! Storage of customer data grants, the settlement ledger of priced reads,
//! and stated intents. Rows are keyed by the profile that was the root when
//! they were written and read back over every member of the merged profile,
//! so merges keep them and erasure finds them.

use crate::StoreError;
use allele_privacy::grants::{Grant, Price};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A grant with its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredGrant {
    #[serde(flatten)]
    pub grant: Grant,
    pub created_at: i64,
    pub withdrawn_at: Option<i64>,
}

/// One read under a priced grant, owed to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub id: String,
    pub grant_id: String,
    pub grantee: String,
    pub purpose: String,
    pub fields: Vec<String>,
    pub amount: u64,
    pub currency: String,
    /// The access-log leaf recording the read this settles.
    pub access_index: u64,
    pub at: i64,
}

fn grant_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredGrant, String)> {
    let price: Option<i64> = row.get(6)?;
    let currency: Option<String> = row.get(7)?;
    let stored = StoredGrant {
        grant: Grant {
            id: row.get(0)?,
            grantee: row.get(1)?,
            purpose: row.get(2)?,
            fields: Vec::new(),
            expires_at: row.get(4)?,
            price: match (price, currency) {
                (Some(amount), Some(currency)) => Some(Price {
                    amount: amount.max(0) as u64,
                    currency,
                }),
                _ => None,
            },
        },
        created_at: row.get(5)?,
        withdrawn_at: row.get(8)?,
    };
    Ok((stored, row.get(3)?))
}

/// Every grant of the merged profile rooted at `root`, withdrawn ones
/// included, oldest first.
pub fn grants(conn: &Connection, root: &str) -> Result<Vec<StoredGrant>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, grantee, purpose, fields, expires_at, created_at, price, currency, withdrawn_at
         FROM grants WHERE profile_id = ?1",
    )?;
    let mut out = Vec::new();
    for member in crate::read::members(conn, root)? {
        let rows = stmt.query_map([&member], grant_from_row)?;
        for row in rows {
            let (mut stored, fields) = row?;
            stored.grant.fields = serde_json::from_str(&fields)?;
            out.push(stored);
        }
    }
    out.sort_by(|a, b| (a.created_at, &a.grant.id).cmp(&(b.created_at, &b.grant.id)));
    Ok(out)
}

/// The grants not withdrawn (expired ones included: Cedar decides expiry).
pub fn active_grants(conn: &Connection, root: &str) -> Result<Vec<Grant>, StoreError> {
    Ok(grants(conn, root)?
        .into_iter()
        .filter(|stored| stored.withdrawn_at.is_none())
        .map(|stored| stored.grant)
        .collect())
}

/// Stores a grant, replacing (withdrawing) any active grant to the same
/// grantee for the same purpose: one grant per grantee × purpose.
/// Returns the ids it replaced.
pub fn put_grant(
    conn: &Connection,
    ws: &str,
    root: &str,
    grant: &Grant,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let replaced: Vec<String> = active_grants(conn, root)?
        .into_iter()
        .filter(|old| old.grantee == grant.grantee && old.purpose == grant.purpose)
        .map(|old| old.id)
        .collect();
    for id in &replaced {
        conn.execute(
            "UPDATE grants SET withdrawn_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
    }
    conn.prepare_cached(
        "INSERT INTO grants (id, workspace_id, profile_id, grantee, purpose, fields, expires_at, price, currency, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        grant.id,
        ws,
        root,
        grant.grantee,
        grant.purpose,
        serde_json::to_string(&grant.fields)?,
        grant.expires_at,
        grant.price.as_ref().map(|p| i64::try_from(p.amount).unwrap_or(i64::MAX)),
        grant.price.as_ref().map(|p| p.currency.clone()),
        now,
    ])?;
    Ok(replaced)
}

/// Withdraws one active grant of this customer; `false` when they have none by that id.
pub fn withdraw_grant(
    conn: &Connection,
    root: &str,
    id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let members = crate::read::members(conn, root)?;
    let owner: Option<String> = conn
        .prepare_cached("SELECT profile_id FROM grants WHERE id = ?1 AND withdrawn_at IS NULL")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    // Another customer's grant id answers exactly like an unknown one.
    let Some(owner) = owner.filter(|owner| members.contains(owner)) else {
        return Ok(false);
    };
    conn.execute(
        "UPDATE grants SET withdrawn_at = ?3 WHERE id = ?1 AND profile_id = ?2",
        params![id, owner, now],
    )?;
    Ok(true)
}

/// Records one settlement.
pub fn settle(
    conn: &Connection,
    ws: &str,
    root: &str,
    settlement: &Settlement,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO settlements (id, workspace_id, profile_id, grant_id, grantee, purpose, fields, amount, currency, access_index, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        settlement.id,
        ws,
        root,
        settlement.grant_id,
        settlement.grantee,
        settlement.purpose,
        serde_json::to_string(&settlement.fields)?,
        i64::try_from(settlement.amount).unwrap_or(i64::MAX),
        settlement.currency,
        i64::try_from(settlement.access_index).unwrap_or(i64::MAX),
        settlement.at,
    ])?;
    Ok(())
}

/// The customer's settlement ledger, oldest first.
pub fn settlements(conn: &Connection, root: &str) -> Result<Vec<Settlement>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, grant_id, grantee, purpose, fields, amount, currency, access_index, at
         FROM settlements WHERE profile_id = ?1",
    )?;
    let mut out = Vec::new();
    for member in crate::read::members(conn, root)? {
        let rows = stmt.query_map([&member], |row| {
            Ok((
                Settlement {
                    id: row.get(0)?,
                    grant_id: row.get(1)?,
                    grantee: row.get(2)?,
                    purpose: row.get(3)?,
                    fields: Vec::new(),
                    amount: row.get::<_, i64>(5)?.max(0) as u64,
                    currency: row.get(6)?,
                    access_index: row.get::<_, i64>(7)?.max(0) as u64,
                    at: row.get(8)?,
                },
                row.get::<_, String>(4)?,
            ))
        })?;
        for row in rows {
            let (mut settlement, fields) = row?;
            settlement.fields = serde_json::from_str(&fields)?;
            out.push(settlement);
        }
    }
    out.sort_by_key(|s| (s.at, s.access_index));
    Ok(out)
}

/// The customer's stated intents (a JSON list), if they set any.
pub fn intents(conn: &Connection, root: &str) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT intents FROM intents WHERE profile_id = ?1")?;
    // Written under the root; after a merge the old root is a member.
    for member in crate::read::members(conn, root)? {
        if let Some(text) = stmt.query_row([&member], |row| row.get(0)).optional()? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// Replaces the customer's intents.
pub fn set_intents(
    conn: &Connection,
    ws: &str,
    root: &str,
    intents: &str,
    now: i64,
) -> Result<(), StoreError> {
    for member in crate::read::members(conn, root)? {
        conn.execute("DELETE FROM intents WHERE profile_id = ?1", [&member])?;
    }
    conn.prepare_cached(
        "INSERT INTO intents (profile_id, workspace_id, intents, updated_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![root, ws, intents, now])?;
    Ok(())
}
