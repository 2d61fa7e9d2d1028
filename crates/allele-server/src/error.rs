//! Turning every failure into the one JSON error body.

use allele_store::StoreError;
use allele_types::{ApiError, Code};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An [`ApiError`] that axum can answer with.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl HttpError {
    pub fn new(code: Code, message: impl Into<String>) -> HttpError {
        HttpError(ApiError::new(code, message))
    }
}

/// A JSON request body as `T`, or a 400 `invalid_body` saying what the
/// body must be (`what`) and what was wrong.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, HttpError> {
    serde_json::from_slice(body)
        .map_err(|err| HttpError::new(Code::InvalidBody, format!("{what}: {err}")))
}

impl From<ApiError> for HttpError {
    fn from(err: ApiError) -> Self {
        HttpError(err)
    }
}

impl From<StoreError> for HttpError {
    fn from(err: StoreError) -> Self {
        if err.is_full() {
            return HttpError::new(
                Code::StorageFull,
                "the data directory is full; nothing was written",
            );
        }
        match err {
            StoreError::Overloaded => {
                HttpError::new(Code::Overloaded, "the writer is saturated; retry shortly")
            }
            StoreError::Closed => {
                HttpError::new(Code::StoreUnavailable, "the store is shutting down")
            }
            StoreError::ProfileNotFound => HttpError::new(
                Code::ProfileNotFound,
                "no profile answers to this reference",
            ),
            StoreError::MergeNotFound => {
                HttpError::new(Code::MergeNotFound, "the profile has no merge to undo")
            }
            StoreError::Invalid(message) => HttpError::new(Code::InvalidBody, message),
            other => {
                tracing::error!(error = %other, "store failure");
                HttpError::new(
                    Code::StoreUnavailable,
                    "the store could not complete the request; nothing was acknowledged",
                )
            }
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        metrics::counter!("allele_http_errors_total", "code" => self.0.code).increment(1);
        let mut response = (status, axum::Json(&self.0)).into_response();
        if matches!(
            self.0.code,
            "overloaded" | "store_unavailable" | "not_ready"
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

pub async fn not_found() -> HttpError {
    HttpError::new(Code::RouteNotFound, "no endpoint has this path")
}

pub async fn method_not_allowed() -> HttpError {
    HttpError::new(
        Code::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}

/// Panics are bugs; the client still gets a JSON body.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    HttpError::new(
        Code::Internal,
        "an unexpected failure; the request had no effect",
    )
    .into_response()
}

/// The framework's own rejections (a query that does not parse, a form
/// with the wrong content type, a body over an extractor's limit) answer
/// plain text; turn every such error into the one JSON error body.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let code = match status.as_u16() {
        413 => Code::BatchTooLarge,
        415 => Code::UnsupportedMediaType,
        404 => Code::RouteNotFound,
        405 => Code::MethodNotAllowed,
        400 | 422 => Code::InvalidQuery,
        s if s >= 500 => Code::Internal,
        _ => Code::InvalidBody,
    };
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_lowercase();
    let message = if message.is_empty() {
        code.doc().to_string()
    } else {
        message
    };
    let mut error = ApiError::new(code, message);
    // A form or JSON body that does not deserialize is a plain 400, like
    // every other invalid request; other statuses say something more.
    if status.as_u16() != 422 {
        error.status = status.as_u16();
    }
    HttpError(error).into_response()
}
