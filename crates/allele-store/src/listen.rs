//! Reads and writes behind listening: posts with their authors and mentions,
//! the follow and referral edges of the influence graph, referral sign-ups,
//! and the influence scores the scheduler stores for computed traits.

use crate::StoreError;
use rusqlite::{Connection, params};

/// One social post: when, what it says, who wrote it, whom it mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub ts: i64,
    pub text: String,
    pub user_id: Option<String>,
    pub mentions: Vec<String>,
}

/// Every event named `event` carrying text in `properties.<property>`, in
/// time order, with its author's `userId` and `properties.mentions`.
pub fn posts(
    conn: &Connection,
    ws: &str,
    event: &str,
    property: &str,
) -> Result<Vec<Post>, StoreError> {
    let path = format!("$.properties.\"{}\"", property.replace('"', "\"\""));
    let mut stmt = conn.prepare_cached(
        "SELECT ts, json_extract(body, ?3), json_extract(body, '$.userId'), json_extract(body, '$.properties.mentions')
         FROM events WHERE workspace_id = ?1 AND name = ?2 ORDER BY ts, seq",
    )?;
    let mut rows = stmt.query(params![ws, event, path])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let rusqlite::types::ValueRef::Text(text) = row.get_ref(1)? else {
            continue;
        };
        // json_extract answers a list as JSON text and a string as itself.
        let mentions = match row.get_ref(3)? {
            rusqlite::types::ValueRef::Text(raw) => {
                match serde_json::from_slice::<Vec<serde_json::Value>>(raw) {
                    Ok(list) => list
                        .into_iter()
                        .filter_map(|m| m.as_str().map(str::to_owned))
                        .collect(),
                    Err(_) => handles(&String::from_utf8_lossy(raw))
                        .map(str::to_owned)
                        .collect(),
                }
            }
            _ => Vec::new(),
        };
        out.push(Post {
            ts: row.get(0)?,
            text: String::from_utf8_lossy(text).into_owned(),
            user_id: row.get::<_, Option<String>>(2).ok().flatten(),
            mentions,
        });
    }
    Ok(out)
}

/// Follow edges: every `event` (e.g. `User Followed`) from `userId` to
/// `properties.followed_user_id`.
pub fn follow_edges(
    conn: &Connection,
    ws: &str,
    event: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(body, '$.userId'), json_extract(body, '$.properties.followed_user_id') FROM events
         WHERE workspace_id = ?1 AND name = ?2 AND json_type(body, '$.userId') = 'text'
           AND json_type(body, '$.properties.followed_user_id') = 'text'",
    )?;
    let rows = stmt
        .query_map(params![ws, event], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<(String, String)>, _>>()?;
    Ok(rows)
}

/// Who owns which referral code: the `referral_code` trait of each live
/// profile, as `(code, root profile id)`.
pub fn referral_codes(conn: &Connection, ws: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(traits, '$.referral_code'), id FROM profiles
         WHERE workspace_id = ?1 AND merged_into IS NULL AND json_type(traits, '$.referral_code') = 'text'",
    )?;
    let rows = stmt
        .query_map([ws], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<(String, String)>, _>>()?;
    Ok(rows)
}

/// Every `event` (e.g. `Signed Up`) as `(root profile, ts, referral code)`,
/// the code taken from `properties.referral_code` (or null), in time order.
pub fn signups(
    conn: &Connection,
    ws: &str,
    event: &str,
) -> Result<Vec<(String, i64, Option<String>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts, CASE WHEN json_type(e.body, '$.properties.referral_code') = 'text'
                THEN json_extract(e.body, '$.properties.referral_code') END
         FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.name = ?2 ORDER BY e.ts, e.seq",
    )?;
    let rows = stmt
        .query_map(params![ws, event], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every `event` as `(root profile, ts, numeric properties.<value> or 0)`.
pub fn valued_events(
    conn: &Connection,
    ws: &str,
    event: &str,
    value: &str,
) -> Result<Vec<(String, i64, f64)>, StoreError> {
    let path = format!("$.properties.\"{}\"", value.replace('"', "\"\""));
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts, CASE WHEN json_type(e.body, ?3) IN ('integer', 'real')
                THEN json_extract(e.body, ?3) ELSE 0 END
         FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.name = ?2",
    )?;
    let rows = stmt
        .query_map(params![ws, event, path], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The `user_id` a root profile answers to, if it has one.
pub fn user_id_of(conn: &Connection, root: &str) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.value FROM identities i JOIN profiles p ON p.id = i.profile_id
         WHERE p.root_id = ?1 AND i.kind = 'user_id' ORDER BY i.created_at, i.value LIMIT 1",
    )?;
    let mut rows = stmt.query([root])?;
    Ok(match rows.next()? {
        Some(row) => Some(row.get(0)?),
        None => None,
    })
}

/// Replace the workspace's stored influence scores with `scores`
/// (`user_id`, PageRank score, two-hop reach).
pub fn store_influence(
    conn: &Connection,
    ws: &str,
    scores: &[(String, f64, usize)],
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM influence_scores WHERE workspace_id = ?1")?
        .execute([ws])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO influence_scores (workspace_id, user_id, score, reach, computed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (user, score, reach) in scores {
        insert.execute(params![ws, user, score, *reach as i64, now])?;
    }
    Ok(())
}

/// The stored influence of the person behind a root profile: the best
/// score over the user ids it answers to, with that id's reach.
pub fn influence_of(conn: &Connection, root: &str) -> Result<Option<(f64, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.score, s.reach FROM influence_scores s
         JOIN identities i ON i.workspace_id = s.workspace_id AND i.kind = 'user_id' AND i.value = s.user_id
         JOIN profiles p ON p.id = i.profile_id
         WHERE p.root_id = ?1 ORDER BY s.score DESC LIMIT 1",
    )?;
    let mut rows = stmt.query([root])?;
    Ok(match rows.next()? {
        Some(row) => Some((row.get(0)?, row.get(1)?)),
        None => None,
    })
}

/// Co-creation activity of a root profile: ideas posted, votes cast, comments.
pub fn ideas_activity(conn: &Connection, root: &str) -> Result<(i64, i64, i64), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT (SELECT count(*) FROM ideas WHERE author = ?1),
                (SELECT count(*) FROM idea_votes WHERE voter = ?1),
                (SELECT count(*) FROM idea_comments WHERE author = ?1)",
    )?;
    Ok(stmt.query_row([root], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?)
}

/// Whether a `event_type` webhook was queued for the workspace since `since`;
/// scheduled alerts use it to raise one alert per window, not one per run.
pub fn alerted_since(
    conn: &Connection,
    ws: &str,
    event_type: &str,
    since: i64,
) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM alerts WHERE workspace_id = ?1 AND kind = ?2 AND at >= ?3 LIMIT 1",
    )?;
    Ok(stmt.exists(params![ws, event_type, since])?)
}

/// Record that an alert of `kind` was raised (whether or not a webhook
/// subscribed to it), so the next scheduled run stays quiet.
pub fn record_alert(
    conn: &Connection,
    ws: &str,
    kind: &str,
    payload: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO alerts (workspace_id, kind, payload, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ws, kind, payload, now])?;
    Ok(())
}

/// Every workspace id, for jobs that run over all of them.
pub fn workspaces(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM workspaces ORDER BY id")?;
    let rows = stmt
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

/// Mention and reply edges (`userId` → each of `properties.mentions`, and
/// → `properties.reply_to`) of every event named `event`. Mentions are a
/// JSON list or, as social tools export them to CSV, one string of handles
/// separated by spaces, commas or semicolons; a leading `@` is dropped.
pub fn social_edges(
    conn: &Connection,
    ws: &str,
    event: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(e.body, '$.userId'), m.value FROM events e, json_each(e.body, '$.properties.mentions') m
         WHERE e.workspace_id = ?1 AND e.name = ?2 AND json_extract(e.body, '$.userId') IS NOT NULL AND m.type = 'text'
         UNION ALL
         SELECT json_extract(e.body, '$.userId'), json_extract(e.body, '$.properties.reply_to') FROM events e
         WHERE e.workspace_id = ?1 AND e.name = ?2 AND json_extract(e.body, '$.userId') IS NOT NULL
           AND json_type(e.body, '$.properties.reply_to') = 'text'",
    )?;
    let rows = stmt
        .query_map(params![ws, event], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut edges = Vec::with_capacity(rows.len());
    for (from, to) in rows {
        for handle in handles(&to) {
            if handle != from {
                edges.push((from.clone(), handle.to_owned()));
            }
        }
    }
    Ok(edges)
}

/// The handles in one mention string: `"@ann, bob;@cy"` → ann, bob, cy.
pub fn handles(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|h| h.trim_start_matches('@'))
        .filter(|h| !h.is_empty())
}
