//! Segment entry and exit as events. A background task reads the events
//! past its own cursor, evaluates every segment of the workspace for each
//! person they touched, and compares with the memberships it recorded last
//! time (`allele_store::segment_members`). Each change is written as a
//! track event on the person's timeline (`Segment Entered` / `Segment
//! Exited`, `properties.segment_id`), in the same transaction as the new
//! record and cursor, so journeys, webhooks and segments can use it like any
//! other event and a restart neither loses nor repeats one.
//!
//! Membership is evaluated when a person's events arrive: a definition
//! edited later, or a window sliding past an old event, shows at that
//! person's next event.

use crate::AppState;
use allele_store::journeys::{SeenEvent, events_after};
use allele_store::{Connection, StoreError, now_ms, segment_members};
use allele_types::segment::{Message, RequestMeta, parse_message};
use serde_json::{Map, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

pub const ENTERED: &str = "Segment Entered";
pub const EXITED: &str = "Segment Exited";

/// Events read per pass.
const PASS: usize = 1_000;

pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            // A full pass means more is waiting: go on at once.
            loop {
                match pass(&state).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(error) => {
                        tracing::warn!(%error, "segment watcher pass failed; retrying");
                        break;
                    }
                }
            }
        }
    });
}

/// One person's changes in one workspace.
struct Change {
    root: String,
    segment: String,
    entered: bool,
}

/// What a pass found, per workspace, and the cursor to commit after it.
struct Found {
    changes: BTreeMap<String, Vec<Change>>,
    messages: BTreeMap<String, Vec<Message>>,
    last: i64,
    full: bool,
}

/// Read, compare and record one pass; `true` when the pass was full.
pub async fn pass(state: &AppState) -> Result<bool, StoreError> {
    let found = state.store.read(find).await?;
    let Some(found) = found else {
        return Ok(false);
    };
    let Found {
        mut changes,
        mut messages,
        last,
        full,
    } = found;
    let workspaces: Vec<String> = changes.keys().cloned().collect();
    let count = workspaces.len();
    // Each workspace in its own transaction, the cursor with the last one:
    // a pass cut short is read again, and what was recorded then makes no
    // second change.
    for (index, ws) in workspaces.into_iter().enumerate() {
        let list = changes.remove(&ws).unwrap_or_default();
        let events = messages.remove(&ws).unwrap_or_default();
        let final_one = index + 1 == count;
        let at = now_ms();
        let workspace = ws.clone();
        state
            .store
            .write_ingest(&ws, 1 + list.len(), events, move |conn| {
                for change in &list {
                    if change.entered {
                        segment_members::enter(
                            conn,
                            &workspace,
                            &change.segment,
                            &change.root,
                            at,
                        )?;
                    } else {
                        segment_members::exit(conn, &workspace, &change.segment, &change.root)?;
                    }
                }
                if final_one {
                    segment_members::set_cursor(conn, last)?;
                }
                Ok(())
            })
            .await?;
    }
    if count == 0 {
        state
            .store
            .write(1, move |conn| segment_members::set_cursor(conn, last))
            .await?;
    }
    Ok(full)
}

fn find(conn: &Connection) -> Result<Option<Found>, StoreError> {
    let cursor = segment_members::cursor(conn)?;
    // Without any segment there is nothing to compare: move past the log
    // without reading it.
    if let Some(newest) = segment_members::skip_to(conn, cursor)? {
        return Ok((newest > cursor).then(|| Found {
            changes: BTreeMap::new(),
            messages: BTreeMap::new(),
            last: newest,
            full: false,
        }));
    }
    let events = events_after(conn, cursor, PASS)?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(None);
    };
    let mut touched: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for event in events.iter().filter(|e| !is_own(e)) {
        touched.entry(&event.ws).or_default().insert(&event.root);
    }
    let mut found = Found {
        changes: BTreeMap::new(),
        messages: BTreeMap::new(),
        last,
        full: events.len() == PASS,
    };
    for (ws, roots) in touched {
        if super::definitions(conn, ws)?.is_empty() {
            continue;
        }
        let roots: Vec<&str> = roots.into_iter().collect();
        let now = super::scan::memberships_of(conn, ws, &roots)?;
        let was = segment_members::recorded(conn, ws, &roots)?;
        let (mut changes, mut messages) = (Vec::new(), Vec::new());
        for root in &roots {
            let now: BTreeSet<&str> = now
                .get(*root)
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let was: BTreeSet<&str> = was
                .get(*root)
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let entered = now.difference(&was).map(|s| (s, true));
            let exited = was.difference(&now).map(|s| (s, false));
            let mut ids = None;
            for (segment, entered) in entered.chain(exited) {
                if ids.is_none() {
                    ids = Some(segment_members::ids_of(conn, root)?);
                }
                let Some((user, anonymous)) = &ids else {
                    continue;
                };
                if let Some(message) = event(user, anonymous, segment, entered, root, last) {
                    messages.push(message);
                }
                changes.push(Change {
                    root: root.to_string(),
                    segment: segment.to_string(),
                    entered,
                });
            }
        }
        if !changes.is_empty() {
            found.changes.insert(ws.to_string(), changes);
            found.messages.insert(ws.to_string(), messages);
        }
    }
    Ok(Some(found))
}

fn is_own(event: &SeenEvent) -> bool {
    event.kind == "track" && matches!(event.name.as_deref(), Some(ENTERED | EXITED))
}

/// The timeline event for one change. Its messageId names the segment, the
/// person, the direction and the pass's last event, so a pass read twice
/// writes it once. A person with neither id (erased since) gets none.
fn event(
    user: &Option<String>,
    anonymous: &Option<String>,
    segment: &str,
    entered: bool,
    root: &str,
    last: i64,
) -> Option<Message> {
    if user.is_none() && anonymous.is_none() {
        return None;
    }
    let (name, way) = if entered {
        (ENTERED, "in")
    } else {
        (EXITED, "out")
    };
    let mut body = Map::new();
    body.insert("type".into(), json!("track"));
    body.insert("event".into(), json!(name));
    if let Some(user) = user {
        body.insert("userId".into(), json!(user));
    }
    if let Some(anonymous) = anonymous {
        body.insert("anonymousId".into(), json!(anonymous));
    }
    body.insert(
        "messageId".into(),
        json!(format!("seg-{way}-{segment}-{root}-{last}")),
    );
    body.insert("properties".into(), json!({ "segment_id": segment }));
    body.insert(
        "context".into(),
        json!({"library": {"name": "allele-segments"}}),
    );
    let meta = RequestMeta {
        received_at: jiff::Timestamp::now(),
        gpc: false,
        max_batch_bytes: usize::MAX,
    };
    match parse_message(body, None, meta) {
        Ok(message) => Some(message),
        Err(error) => {
            tracing::warn!(%error, "segment change `{segment}` made no event");
            None
        }
    }
}
