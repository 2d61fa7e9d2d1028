//! Segment-Spec messages: parsing and normalisation, free of I/O.
//!
//! A request body becomes a list of [`Message`]s or one [`ApiError`] that
//! names the offending event. Nothing here allocates a profile or touches a
//! store, so the parser can be fuzzed and reused by edges.

use crate::error::{ApiError, Code};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// 32 KB per event (and per single-endpoint body), as Segment documents.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// 500 KB per batch by default.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 500 * 1024;
/// Events accepted in one batch.
pub const MAX_BATCH_EVENTS: usize = 2_500;
/// A timestamp further than this in the future is clamped to `receivedAt`.
const MAX_FUTURE: SignedDuration = SignedDuration::from_hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageType {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl MessageType {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "identify" => Self::Identify,
            "track" => Self::Track,
            "page" => Self::Page,
            "screen" => Self::Screen,
            "group" => Self::Group,
            "alias" => Self::Alias,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identify => "identify",
            Self::Track => "track",
            Self::Page => "page",
            Self::Screen => "screen",
            Self::Group => "group",
            Self::Alias => "alias",
        }
    }
}

/// What the transport knows about a request, needed to normalise its events.
#[derive(Debug, Clone, Copy)]
pub struct RequestMeta {
    pub received_at: Timestamp,
    /// `Sec-GPC: 1` was present on the request.
    pub gpc: bool,
    pub max_batch_bytes: usize,
}

/// One normalised message, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: MessageType,
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// `alias` only: the id being merged into `user_id`.
    pub previous_id: Option<String>,
    /// `track`: the event name; `page`/`screen`: the name, if any.
    pub name: Option<String>,
    /// Corrected event time.
    pub timestamp: Timestamp,
    pub received_at: Timestamp,
    /// `identify`: top-level traits merged over `context.traits`.
    pub traits: Map<String, Value>,
    /// `context.traits` of any message, used only to find identities.
    pub context_traits: Map<String, Value>,
    pub gpc: bool,
    /// The message as sent, with normalised fields written back.
    pub body: Map<String, Value>,
}

/// A parsed request: its events and the body's `writeKey`, if any.
#[derive(Debug)]
pub struct Parsed {
    pub write_key: Option<String>,
    pub messages: Vec<Message>,
}

#[derive(Deserialize)]
struct BatchEnvelope<'a> {
    #[serde(borrow, default)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(rename = "writeKey", default)]
    write_key: Option<Value>,
    #[serde(rename = "sentAt", default)]
    sent_at: Option<Value>,
}

/// Parse a `/v1/batch` (or `/v1/import`) body. All or nothing.
pub fn parse_batch(body: &[u8], meta: RequestMeta) -> Result<Parsed, ApiError> {
    if body.len() > meta.max_batch_bytes {
        return Err(ApiError::new(
            Code::BatchTooLarge,
            format!(
                "batch is {} bytes, over the limit of {} bytes",
                body.len(),
                meta.max_batch_bytes
            ),
        ));
    }
    let envelope: BatchEnvelope = serde_json::from_slice(body).map_err(json_error)?;
    let write_key = optional_string(envelope.write_key.as_ref(), "writeKey")
        .map_err(|m| ApiError::new(Code::InvalidBody, m))?;
    let batch_sent_at = parse_optional_time(envelope.sent_at.as_ref(), "sentAt")?;
    let Some(raw_events) = envelope.batch else {
        return Err(ApiError::new(Code::EmptyBatch, "body has no `batch` array"));
    };
    if raw_events.is_empty() {
        return Err(ApiError::new(Code::EmptyBatch, "`batch` is empty"));
    }
    if raw_events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::new(
            Code::TooManyEvents,
            format!(
                "batch holds {} events, over the limit of {MAX_BATCH_EVENTS}",
                raw_events.len()
            ),
        ));
    }
    let mut messages = Vec::with_capacity(raw_events.len());
    for (index, raw) in raw_events.into_iter().enumerate() {
        let message =
            parse_raw_event(raw, None, batch_sent_at, meta).map_err(|e| e.at_index(index))?;
        messages.push(message);
    }
    Ok(Parsed {
        write_key,
        messages,
    })
}

/// Parse a single-event body (`/v1/identify`, `/v1/track`, …).
pub fn parse_single(body: &[u8], kind: MessageType, meta: RequestMeta) -> Result<Parsed, ApiError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(too_large_event(body.len()));
    }
    let object = parse_object(body)?;
    let write_key = optional_string(object.get("writeKey"), "writeKey")
        .map_err(|m| ApiError::new(Code::InvalidBody, m))?;
    let message = normalise(object, Some(kind), None, meta)?;
    Ok(Parsed {
        write_key,
        messages: vec![message],
    })
}

/// Normalise one already-parsed object (used by `allele import` for JSONL
/// lines and mapped CSV rows). `kind` overrides the object's `type`.
pub fn parse_message(
    object: Map<String, Value>,
    kind: Option<MessageType>,
    meta: RequestMeta,
) -> Result<Message, ApiError> {
    normalise(object, kind, None, meta)
}

fn parse_raw_event(
    raw: &RawValue,
    kind: Option<MessageType>,
    batch_sent_at: Option<Timestamp>,
    meta: RequestMeta,
) -> Result<Message, ApiError> {
    let len = raw.get().len();
    if len > MAX_EVENT_BYTES {
        return Err(too_large_event(len));
    }
    let object = parse_object(raw.get().as_bytes())?;
    normalise(object, kind, batch_sent_at, meta)
}

fn too_large_event(len: usize) -> ApiError {
    ApiError::new(
        Code::EventTooLarge,
        format!("event is {len} bytes, over the limit of {MAX_EVENT_BYTES} bytes"),
    )
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes).map_err(json_error)? {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::new(
            Code::InvalidJson,
            format!("expected a JSON object, found {}", json_kind(&other)),
        )),
    }
}

fn json_error(err: serde_json::Error) -> ApiError {
    if err.is_eof() && err.line() == 1 && err.column() == 0 {
        return ApiError::new(Code::InvalidJson, "body is empty");
    }
    ApiError::new(Code::InvalidJson, format!("malformed json: {err}"))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An id field: a string or a number (stringified); `null` and `""` are absent.
fn optional_id(value: Option<&Value>, field: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!(
            "`{field}` must be a string, found {}",
            json_kind(other)
        )),
    }
}

fn optional_string(value: Option<&Value>, field: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "`{field}` must be a string, found {}",
            json_kind(other)
        )),
    }
}

fn optional_object(value: Option<&Value>, field: &str) -> Result<Map<String, Value>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(other) => Err(ApiError::new(
            Code::InvalidEvent,
            format!("`{field}` must be an object, found {}", json_kind(other)),
        )),
    }
}

/// Parse an RFC 3339 timestamp; a time without an offset is read as UTC.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn parse_optional_time(value: Option<&Value>, field: &str) -> Result<Option<Timestamp>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(s).map(Some).ok_or_else(|| {
            ApiError::new(
                Code::InvalidTimestamp,
                format!("`{field}` is not an ISO 8601 timestamp: `{s}`"),
            )
        }),
        Some(other) => Err(ApiError::new(
            Code::InvalidTimestamp,
            format!(
                "`{field}` must be an ISO 8601 string, found {}",
                json_kind(other)
            ),
        )),
    }
}

/// Format a timestamp the way Segment does: UTC, milliseconds, `Z`.
pub fn format_time(ts: Timestamp) -> String {
    format!("{:.3}", ts)
}

fn invalid(message: String) -> ApiError {
    ApiError::new(Code::InvalidEvent, message)
}

fn normalise(
    mut body: Map<String, Value>,
    kind_from_path: Option<MessageType>,
    batch_sent_at: Option<Timestamp>,
    meta: RequestMeta,
) -> Result<Message, ApiError> {
    let kind = match kind_from_path {
        Some(kind) => kind,
        None => match body.get("type") {
            Some(Value::String(name)) => MessageType::parse(name).ok_or_else(|| {
                ApiError::new(Code::UnknownType, format!("unknown event type `{name}`"))
            })?,
            None | Some(Value::Null) => {
                return Err(ApiError::new(Code::UnknownType, "event has no `type`"));
            }
            Some(other) => {
                return Err(ApiError::new(
                    Code::UnknownType,
                    format!("`type` must be a string, found {}", json_kind(other)),
                ));
            }
        },
    };
    let user_id = optional_id(body.get("userId"), "userId").map_err(invalid)?;
    let anonymous_id = optional_id(body.get("anonymousId"), "anonymousId").map_err(invalid)?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(ApiError::new(
            Code::MissingIdentity,
            "event has neither `userId` nor `anonymousId`",
        ));
    }
    let message_id = optional_id(body.get("messageId"), "messageId").map_err(invalid)?;
    let context = optional_object(body.get("context"), "context")?;
    let context_traits = optional_object(context.get("traits"), "context.traits")?;
    for field in ["properties", "integrations"] {
        optional_object(body.get(field), field)?;
    }
    let mut traits = optional_object(body.get("traits"), "traits")?;

    let (name, previous_id) = match kind {
        MessageType::Track => {
            let event = optional_string(body.get("event"), "event").map_err(invalid)?;
            match event {
                Some(event) if !event.is_empty() => (Some(event), None),
                _ => return Err(invalid("track event has no `event` name".to_string())),
            }
        }
        MessageType::Page | MessageType::Screen => (
            optional_string(body.get("name"), "name").map_err(invalid)?,
            None,
        ),
        MessageType::Alias => {
            let previous = optional_id(body.get("previousId"), "previousId").map_err(invalid)?;
            let Some(previous) = previous else {
                return Err(invalid("alias has no `previousId`".to_string()));
            };
            if user_id.is_none() {
                return Err(invalid("alias has no `userId`".to_string()));
            }
            (None, Some(previous))
        }
        MessageType::Group => {
            if optional_id(body.get("groupId"), "groupId")
                .map_err(invalid)?
                .is_none()
            {
                return Err(invalid("group has no `groupId`".to_string()));
            }
            (None, None)
        }
        MessageType::Identify => (None, None),
    };

    if kind == MessageType::Identify {
        // RudderStack SDKs send traits only in `context.traits`; top-level wins.
        let mut merged = context_traits.clone();
        merged.append(&mut traits);
        traits = merged;
    } else if kind != MessageType::Group {
        traits = Map::new();
    }

    let original = parse_optional_time(body.get("timestamp"), "timestamp")?;
    let event_sent_at = parse_optional_time(body.get("sentAt"), "sentAt")?;
    let sent_at = event_sent_at.or(batch_sent_at);
    let received_at = meta.received_at;
    let mut timestamp = match (original, sent_at) {
        // Segment's skew correction: the client clock's offset is sentAt − receivedAt.
        (Some(original), Some(sent)) => received_at
            .checked_sub(sent.duration_since(original))
            .unwrap_or(received_at),
        (Some(original), None) => original,
        (None, _) => received_at,
    };
    if timestamp.duration_since(received_at) > MAX_FUTURE {
        timestamp = received_at;
    }

    let message_id = match message_id {
        Some(id) => id,
        // Stable: a client that retries the same body gets the same id.
        None => format!("gen-{:032x}", content_hash(&body)),
    };

    body.insert("type".into(), Value::String(kind.as_str().into()));
    body.insert("messageId".into(), Value::String(message_id.clone()));
    if let Some(original) = original
        && !body.contains_key("originalTimestamp")
    {
        body.insert(
            "originalTimestamp".into(),
            Value::String(format_time(original)),
        );
    }
    body.insert("timestamp".into(), Value::String(format_time(timestamp)));
    body.insert("receivedAt".into(), Value::String(format_time(received_at)));
    body.remove("writeKey");

    Ok(Message {
        kind,
        message_id,
        user_id,
        anonymous_id,
        previous_id,
        name,
        timestamp,
        received_at,
        traits,
        context_traits,
        gpc: meta.gpc,
        body,
    })
}

fn content_hash(body: &Map<String, Value>) -> u128 {
    let text = serde_json::to_string(body).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
