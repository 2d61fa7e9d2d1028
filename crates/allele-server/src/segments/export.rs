//! `GET /v1/segments/{id}/export`: every member as CSV, for audiences kept
//! in other tools (ad platforms, spreadsheets).

use super::{Compiled, compile};
use crate::AppState;
use crate::error::HttpError;
use allele_store::{Role, StoreError, now_ms, segments};
use allele_types::Code;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `profile_id,user_id,email`, one row per member in profile id order; the
/// ids a member lacks are empty.
pub async fn export(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let ws = principal.workspace.clone();
    let file = format!("attachment; filename=\"{}.csv\"", id.replace('"', ""));
    let body = state
        .store
        .read(move |conn| {
            let Some(definition) = segments::get(conn, &ws, &id)? else {
                return Ok(None);
            };
            let compiled: Compiled = Arc::new(compile(&definition).map_err(StoreError::Invalid)?);
            let members = super::all_members(conn, &ws, &compiled, now_ms())?;
            let mut out = csv::Writer::from_writer(Vec::new());
            let row = |out: &mut csv::Writer<Vec<u8>>, fields: [&str; 3]| {
                out.write_record(fields)
                    .map_err(|error| StoreError::Invalid(format!("csv: {error}")))
            };
            row(&mut out, ["profile_id", "user_id", "email"])?;
            for root in &members {
                let user = segments::first_user_id(conn, root)?;
                let email = segments::first_identity(conn, root, "email")?;
                row(
                    &mut out,
                    [
                        root,
                        user.as_deref().unwrap_or(""),
                        email.as_deref().unwrap_or(""),
                    ],
                )?;
            }
            out.into_inner()
                .map(Some)
                .map_err(|error| StoreError::Invalid(format!("csv: {error}")))
        })
        .await?
        .ok_or_else(|| HttpError::new(Code::SegmentNotFound, "no segment has this id"))?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
