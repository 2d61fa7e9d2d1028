//! Segments: CEL expressions over the profile (the same language and
//! compiler as policy rules), evaluated when read, so a change to a profile
//! shows in its memberships at once. A missing trait or an evaluation error
//! means "not a member".

use crate::AppState;
use crate::error::HttpError;
use allele_engine::cel::{Activation, Expression, SlotTable};
use allele_engine::{DecisionInput, DecisionRequest, ProfileView};
use allele_store::{Role, StoreError, bundles, now_ms, segments};
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

mod export;
mod scan;
#[cfg(test)]
mod tests;
pub mod watch;
pub use export::export;
pub use scan::{Needs, all_members, memberships, memberships_of, scan_members};

/// 1-based `line:column` of a byte offset in `source`.
fn position(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset.min(source.len())).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

pub(crate) fn compile(definition: &str) -> Result<(Expression, SlotTable), String> {
    let mut slots = SlotTable::default();
    let expression = Expression::compile(definition, &mut slots).map_err(|err| {
        let (line, column) = position(definition, err.span.start);
        format!("{line}:{column}: {}", err.message)
    })?;
    Ok((expression, slots))
}

pub(crate) fn is_member(
    expression: &Expression,
    slots: &SlotTable,
    input: &DecisionInput,
    now: i64,
) -> bool {
    let mut activation = Activation::for_input(slots, input, now);
    matches!(
        expression.evaluate(&mut activation),
        Ok(allele_engine::cel::value::Value::Bool(true))
    )
}

pub(crate) fn as_input(profile: &ProfileView, now: i64) -> DecisionInput {
    as_input_owned(profile.clone(), now)
}

pub(crate) fn as_input_owned(profile: ProfileView, now: i64) -> DecisionInput {
    DecisionInput {
        profile,
        request: DecisionRequest {
            touchpoint: String::new(),
            channel: String::new(),
            context: Map::new(),
            limit: 1,
        },
        now_ms: now,
        seed: 0,
        workspace_salt: String::new(),
        contact_history: BTreeMap::new(),
        customer_caps: None,
        arm_stats: BTreeMap::new(),
        linear_stats: BTreeMap::new(),
    }
}

/// A segment definition, compiled.
pub type Compiled = Arc<(Expression, SlotTable)>;

/// Compiled definitions by source text: compiling is a pure function of
/// the text, so an entry never goes stale; a changed definition is a new key.
fn compile_cached(definition: &str) -> Option<Compiled> {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled>>> = OnceLock::new();
    /// Bounds the memory definitions no longer in use can hold.
    const MAX_CACHED: usize = 4_096;
    let cache = CACHE.get_or_init(Mutex::default);
    if let Ok(map) = cache.lock()
        && let Some(found) = map.get(definition)
    {
        return Some(Arc::clone(found));
    }
    let compiled: Compiled = Arc::new(compile(definition).ok()?);
    if let Ok(mut map) = cache.lock() {
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(definition.to_string(), Arc::clone(&compiled));
    }
    Some(compiled)
}

/// A workspace's segments that compile, by id, with what they read
/// together.
#[derive(Default)]
pub struct Definitions {
    pub segments: Vec<(String, Compiled)>,
    pub needs: Needs,
}

impl std::ops::Deref for Definitions {
    type Target = [(String, Compiled)];

    fn deref(&self) -> &Self::Target {
        &self.segments
    }
}

/// The workspace's segments that compile, by id: kept per database and
/// workspace until a definition is written (the store's definitions
/// version moves), so an evaluation does not read and look up every
/// definition again.
pub fn definitions(
    conn: &allele_store::Connection,
    ws: &str,
) -> Result<Arc<Definitions>, StoreError> {
    type Cache = HashMap<(String, String), (u64, Arc<Definitions>)>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    // Read before the table, so a write landing during the load leaves an
    // entry that is already out of date rather than one that looks current.
    let version = segments::version();
    // A temporary or in-memory database has no name to key the entry by.
    let key = conn
        .path()
        .filter(|path| !path.is_empty())
        .map(|path| (path.to_string(), ws.to_string()));
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(key) = &key
        && let Ok(map) = cache.lock()
        && let Some((at, found)) = map.get(key)
        && *at == version
    {
        return Ok(Arc::clone(found));
    }
    let segments: Vec<(String, Compiled)> = segments::all(conn, ws)?
        .into_iter()
        .filter_map(|(id, definition)| compile_cached(&definition).map(|c| (id, c)))
        .collect();
    let mut needs = Needs::default();
    for (_, compiled) in &segments {
        needs.add(&compiled.1);
    }
    let loaded = Arc::new(Definitions { segments, needs });
    if let Some(key) = key
        && let Ok(mut map) = cache.lock()
    {
        /// Bounds the memory workspaces no longer evaluated can hold.
        const MAX_CACHED: usize = 4_096;
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(key, (version, Arc::clone(&loaded)));
    }
    Ok(loaded)
}

/// The ids of the segments in `definitions` this profile belongs to.
pub fn members_of(
    definitions: &[(String, Compiled)],
    profile: &ProfileView,
    now: i64,
) -> Vec<String> {
    if definitions.is_empty() {
        return Vec::new();
    }
    let input = as_input(profile, now);
    definitions
        .iter()
        .filter(|(_, compiled)| is_member(&compiled.0, &compiled.1, &input, now))
        .map(|(id, _)| id.clone())
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentBody {
    definition: String,
    #[serde(default)]
    description: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `PUT /v1/segments/{id}`: check and store a definition.
pub async fn put(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    if !valid_id(&id) {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("segment id `{id}` must be 1–64 letters, digits, `_` or `-`"),
        ));
    }
    let request: SegmentBody = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("body must be `{{\"definition\", \"description\"}}`: {err}"),
        )
    })?;
    let (expression, _) = compile(&request.definition)
        .map_err(|message| HttpError::new(Code::InvalidBody, message))?;
    let ws = principal.workspace.clone();
    let known = state
        .store
        .read(move |conn| bundles::known_traits(conn, &ws))
        .await?;
    let warnings: Vec<String> = expression
        .traits
        .iter()
        .filter(|(name, _)| !known.contains(name))
        .map(|(name, span)| {
            let (line, column) = position(&request.definition, span.start);
            let hint = allele_engine::did_you_mean(name, known.iter().map(String::as_str));
            format!("{line}:{column}: trait `{name}` was never seen in this workspace{hint}")
        })
        .collect();
    let (ws, segment, definition, description) = (
        principal.workspace.clone(),
        id.clone(),
        request.definition.clone(),
        request.description.clone(),
    );
    state
        .store
        .write(1, move |conn| {
            segments::put(conn, &ws, &segment, &definition, &description, now_ms())
        })
        .await?;
    segments::changed();
    Ok(Json(
        json!({"id": id, "definition": request.definition, "description": request.description, "warnings": warnings}),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct MembersQuery {
    limit: Option<usize>,
    after: Option<String>,
}

impl MembersQuery {
    /// The first `limit` members.
    pub fn first(limit: usize) -> MembersQuery {
        MembersQuery {
            limit: Some(limit),
            after: None,
        }
    }
}

/// `GET /v1/segments/{id}/members?limit&after`: members by profile id.
pub async fn members(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<MembersQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1_000);
    let ws = principal.workspace.clone();
    let after = query.after.unwrap_or_default();
    let page = state
        .store
        .read(move |conn| {
            let Some(definition) = segments::get(conn, &ws, &id)? else {
                return Ok(None);
            };
            let compiled: Compiled = Arc::new(compile(&definition).map_err(StoreError::Invalid)?);
            let mut found = Vec::new();
            // One pass in root id order from the cursor, stopped when the
            // page is full.
            scan_members(conn, &ws, &compiled, &after, now_ms(), |root| {
                let user_id = segments::first_user_id(conn, root)?;
                found.push(json!({"id": root, "user_id": user_id}));
                Ok(found.len() < limit)
            })?;
            let next_after = if found.len() == limit {
                found.last().map(|m| m["id"].clone())
            } else {
                None
            };
            Ok(Some(json!({"members": found, "next_after": next_after})))
        })
        .await?;
    page.map(Json)
        .ok_or_else(|| HttpError::new(Code::SegmentNotFound, "no segment has this id"))
}

/// Every member of segment `id` (root profile ids, in id order), or `None`
/// when there is no such segment: one pass over the workspace's profiles.
pub fn rebuild(
    conn: &allele_store::Connection,
    ws: &str,
    id: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    let Some(definition) = segments::get(conn, ws, id)? else {
        return Ok(None);
    };
    let compiled: Compiled = Arc::new(compile(&definition).map_err(StoreError::Invalid)?);
    all_members(conn, ws, &compiled, now_ms()).map(Some)
}
