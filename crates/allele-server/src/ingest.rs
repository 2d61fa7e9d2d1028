//! The Segment HTTP Tracking API: `/v1/identify|track|page|screen|group|alias`
//! and `/v1/batch` (`/v1/import`). Answers `200 {"success":true}` only after
//! the store has fsync'd the events.

use crate::AppState;
use crate::auth::header_key;
use crate::error::HttpError;
use allele_store::Role;
use allele_types::Code;
use allele_types::segment::{self, MAX_EVENT_BYTES, MessageType, RequestMeta};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use std::io::Read;
use std::sync::Arc;

pub async fn single(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let Some(kind) = MessageType::parse(&kind) else {
        return Err(HttpError::new(
            Code::RouteNotFound,
            format!("no endpoint `/v1/{kind}`"),
        ));
    };
    ingest(&state, &headers, body, Some(kind)).await
}

pub async fn batch(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    ingest(&state, &headers, body, None).await
}

async fn ingest(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    kind: Option<MessageType>,
) -> Result<Response, HttpError> {
    let result = ingest_inner(state, headers, body, kind).await;
    if let Err(err) = &result {
        metrics::counter!("allele_ingest_rejects_total", "reason" => err.0.code).increment(1);
    }
    result
}

async fn ingest_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    kind: Option<MessageType>,
) -> Result<Response, HttpError> {
    let received_at = jiff::Timestamp::now();
    // Basic auth wins over a body writeKey, so check it before reading the body.
    let header_principal = match header_key(headers)? {
        Some(key) => Some(state.principal(&key).await?),
        None => None,
    };
    let limit = if kind.is_some() {
        MAX_EVENT_BYTES
    } else {
        state.config.max_batch_bytes
    };
    let bytes = read_body(headers, body, limit).await?;
    let meta = RequestMeta {
        received_at,
        gpc: gpc(headers),
        max_batch_bytes: state.config.max_batch_bytes,
    };
    let parsed = match kind {
        Some(kind) => segment::parse_single(&bytes, kind, meta)?,
        None => segment::parse_batch(&bytes, meta)?,
    };
    let principal = match (header_principal, parsed.write_key) {
        (Some(principal), _) => principal,
        (None, Some(key)) if !key.is_empty() => state.principal(&key).await?,
        (None, _) => {
            return Err(HttpError::new(
                Code::MissingAuth,
                "send the write key as the basic-auth username or as `writeKey` in the body",
            ));
        }
    };
    if principal.role != Role::Write {
        return Err(HttpError::new(
            Code::WrongRole,
            "only write keys may send events",
        ));
    }
    // A consent signal that does not decode is refused, never half-applied.
    for (index, message) in parsed.messages.iter().enumerate() {
        if let Some(tc) = allele_store::ingest::tc_string(&message.body)
            && let Err(err) = allele_privacy::tcf::decode::decode(tc)
        {
            let error = allele_types::ApiError::new(
                Code::InvalidEvent,
                format!("`context.tcString` is not a valid TCF v2 string: {err}"),
            );
            return Err(HttpError(if kind.is_none() {
                error.at_index(index)
            } else {
                error
            }));
        }
    }
    metrics::histogram!("allele_ingest_batch_size").record(parsed.messages.len() as f64);
    state
        .store
        .ingest(&principal.workspace, parsed.messages)
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"success":true}"#,
    )
        .into_response())
}

/// `Sec-GPC` counts only as one header whose value is exactly `1`.
pub fn gpc(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all("sec-gpc").iter();
    matches!((values.next(), values.next()), (Some(value), None) if value.as_bytes() == b"1")
}

/// Read the body, decompressing gzip, with `limit` applied to the
/// decompressed size so that a small bomb cannot exhaust memory.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, HttpError> {
    let too_large = |len: &str| {
        let code = if limit == MAX_EVENT_BYTES {
            Code::EventTooLarge
        } else {
            Code::BatchTooLarge
        };
        HttpError::new(
            code,
            format!("body is {len} bytes, over the limit of {limit} bytes"),
        )
    };
    let encoding = match headers.get(header::CONTENT_ENCODING) {
        None => "identity".to_string(),
        Some(value) => value
            .to_str()
            .unwrap_or("invalid")
            .trim()
            .to_ascii_lowercase(),
    };
    let gzip = match encoding.as_str() {
        "identity" | "" => false,
        "gzip" | "x-gzip" => true,
        other => {
            return Err(HttpError::new(
                Code::UnsupportedEncoding,
                format!("unsupported content-encoding `{other}`"),
            ));
        }
    };
    // Compressed input can't usefully be larger than the decompressed limit.
    let raw = axum::body::to_bytes(body, limit + 1024)
        .await
        .map_err(|_| too_large(&format!("more than {limit}")))?;
    if !gzip {
        if raw.len() > limit {
            return Err(too_large(&raw.len().to_string()));
        }
        return Ok(raw);
    }
    let mut decoded = Vec::with_capacity(raw.len() * 4);
    flate2::read::GzDecoder::new(&raw[..])
        .take(limit as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|err| {
            HttpError::new(
                Code::InvalidGzip,
                format!("body does not decompress: {err}"),
            )
        })?;
    if decoded.len() > limit {
        return Err(too_large(&format!("more than {limit}")));
    }
    Ok(Bytes::from(decoded))
}
