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
