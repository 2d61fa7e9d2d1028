//! Erasure of one person: every row that holds their data, across every
//! table, in one transaction. The access log keeps its leaves (a Merkle log
//! cannot be rewritten), but they name only random profile ids that nothing
//! links to a person any more once identities and profiles are gone.

use crate::StoreError;
use crate::identity::Resolver;
use rusqlite::params;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Erased {
    pub profiles: Vec<String>,
    pub events: usize,
    pub identities: usize,
    pub consents: usize,
    pub decisions: usize,
    pub outcomes: usize,
    pub tokens: usize,
    pub merges: usize,
    pub grants: usize,
    pub settlements: usize,
    pub intents: usize,
}

/// Erase the merged profile rooted at `root` (all its members).
pub fn erase(resolver: &mut Resolver, root: &str) -> Result<Erased, StoreError> {
    let conn = resolver.conn;
    // `forget` cannot be undone if this job rolls back: reload after the group.
    resolver.cache.reload_before_next_group();
    let members = crate::read::members(conn, root)?;
    let mut erased = Erased {
        profiles: members.clone(),
        ..Erased::default()
    };
    for member in &members {
        let identities: Vec<(String, String)> = conn
            .prepare_cached("SELECT kind, value FROM identities WHERE profile_id = ?1")?
            .query_map([member], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (kind, value) in &identities {
            resolver.cache.forget(resolver.ws, kind, value, member);
            if kind == "user_id" {
                conn.execute(
                    "DELETE FROM influence_scores WHERE workspace_id = ?1 AND user_id = ?2",
                    params![resolver.ws, value],
                )?;
            }
        }
        // What the person wrote on the ideas board goes with them; their
        // votes leave the tallies (aggregates are recomputed from votes).
        conn.execute(
            "DELETE FROM idea_votes WHERE voter = ?1 OR idea_id IN (SELECT id FROM ideas WHERE author = ?1)",
            [member],
        )?;
        conn.execute(
            "DELETE FROM idea_comments WHERE author = ?1 OR idea_id IN (SELECT id FROM ideas WHERE author = ?1)",
            [member],
        )?;
        conn.execute("DELETE FROM ideas WHERE author = ?1", [member])?;
        erased.identities +=
            conn.execute("DELETE FROM identities WHERE profile_id = ?1", [member])?;
        crate::facts::erase(conn, resolver.ws, member)?;
        erased.events += conn.execute("DELETE FROM events WHERE profile_id = ?1", [member])?;
        erased.consents += conn.execute("DELETE FROM consents WHERE profile_id = ?1", [member])?;
        erased.tokens += conn.execute(
            "DELETE FROM customer_tokens WHERE profile_id = ?1",
            [member],
        )?;
        crate::arms::forget_profile(conn, resolver.ws, member)?;
        erased.outcomes += conn.execute(
            "DELETE FROM outcomes WHERE decision_id IN (SELECT id FROM decisions WHERE profile_id = ?1)",
            [member],
        )?;
        conn.execute(
            "DELETE FROM decision_actions WHERE profile_id = ?1",
            [member],
        )?;
        erased.decisions +=
            conn.execute("DELETE FROM decisions WHERE profile_id = ?1", [member])?;
        erased.merges += conn.execute(
            "DELETE FROM merges WHERE from_profile = ?1 OR into_profile = ?1",
            [member],
        )?;
        conn.execute(
            "DELETE FROM merge_refusals WHERE profile_a = ?1 OR profile_b = ?1",
            [member],
        )?;
        conn.execute(
            "DELETE FROM merge_blocks WHERE profile_a = ?1 OR profile_b = ?1",
            [member],
        )?;
        conn.execute(
            "DELETE FROM customer_limits WHERE profile_id = ?1",
            [member],
        )?;
        // Campaign rows: the person's messages, journey runs and seen memberships.
        for table in [
            "email_outbox",
            "journey_runs",
            "journey_segment_members",
            "segment_members",
        ] {
            conn.execute(
                &format!("DELETE FROM {table} WHERE profile_id = ?1"),
                [member],
            )?;
        }
        erased.grants += conn.execute("DELETE FROM grants WHERE profile_id = ?1", [member])?;
        erased.settlements +=
            conn.execute("DELETE FROM settlements WHERE profile_id = ?1", [member])?;
        erased.intents += conn.execute("DELETE FROM intents WHERE profile_id = ?1", [member])?;
        conn.execute("DELETE FROM profiles WHERE id = ?1", params![member])?;
    }
    Ok(erased)
}
