//! The clickstream as steps: every page (its `properties.path`, else its
//! name), screen (its name) and track event (its event name) of a
//! workspace, per person in time order, with the campaign it came from.

use crate::StoreError;
use rusqlite::{Connection, params};

/// One step: `(root profile, ts, step, campaign source/name or "")`.
pub type Step = (String, i64, String, String);

pub fn steps(conn: &Connection, ws: &str) -> Result<Vec<Step>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts,
                CASE e.type
                  WHEN 'page' THEN COALESCE(json_extract(e.body, '$.properties.path'), e.name, json_extract(e.body, '$.name'))
                  ELSE COALESCE(e.name, json_extract(e.body, '$.name'), json_extract(e.body, '$.event'))
                END,
                COALESCE(json_extract(e.body, '$.context.campaign.source'), '') || '/' ||
                COALESCE(json_extract(e.body, '$.context.campaign.name'), '')
         FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.type IN ('page', 'screen', 'track')
         ORDER BY p.root_id, e.ts, e.seq",
    )?;
    let rows = stmt
        .query_map(params![ws], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?
        .filter_map(|row| match row {
            Ok((root, ts, Some(step), campaign)) => Some(Ok((root, ts, step, campaign))),
            Ok(_) => None,
            Err(err) => Some(Err(err)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
