//! A deadline for request bodies. The header deadline stops clients that
//! never finish their headers; this stops the ones that send headers
//! promptly and then trickle the body a byte at a time, holding a
//! connection and a handler for as long as they like.
//!
//! The deadline is a total from the moment the headers arrived, not an
//! idle timeout between chunks, so dribbling does not extend it. Handlers
//! read bodies their own way (`Bytes`, gzip-aware readers), so the body
//! fails with an error when the deadline passes and the middleware, which
//! knows it fired, answers 408 in place of whatever the handler made of
//! the failed read.

use crate::error::HttpError;
use allele_types::error::Code;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

pub fn layer(router: Router, deadline: Duration) -> Router {
    router.layer(axum::middleware::from_fn(move |request, next| {
        body_deadline(deadline, request, next)
    }))
}

async fn body_deadline(deadline: Duration, request: Request, next: Next) -> Response {
    // Most requests (GETs) have no body: no timer for them.
    if http_body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&expired);
    let request = request.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            timer: Box::pin(tokio::time::sleep(deadline)),
            expired: flag,
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Relaxed) {
        return response;
    }
    let mut response = HttpError::new(
        Code::BodyTimeout,
        format!(
            "the request body did not arrive within {} s of its headers",
            deadline.as_secs_f64()
        ),
    )
    .into_response();
    // The rest of the body may never come: don't wait for it to reuse
    // the connection.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

struct DeadlineBody {
    inner: Body,
    timer: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        // Data that has arrived is delivered even at the deadline.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive before its deadline",
            )))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
