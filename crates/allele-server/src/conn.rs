//! Accepting HTTP/1 connections with limits, so that clients which hold
//! connections without finishing requests cannot starve everyone else:
//! a deadline for request headers (which also closes idle keep-alive
//! connections), a deadline for request bodies (408, see [`deadline`]), a
//! cap on header bytes and count (431), and a cap on open connections
//! derived from the open-file limit.
//!
//! `axum::serve` sets none of these (hyper's header timeout needs a timer
//! that it does not install), hence this accept loop.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

mod deadline;

/// File descriptors kept back from `max_connections` for the store, logs
/// and outgoing requests (webhooks, email, the centre).
const RESERVED_FDS: u64 = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a request's headers, counted from when
    /// the server starts waiting for them; an idle keep-alive connection
    /// is waiting for headers, so this is also its idle timeout.
    pub header_read_timeout: Duration,
    /// Bytes of request line plus headers; more is answered 431.
    pub max_header_bytes: usize,
    /// Header fields in one request; more is answered 431.
    pub max_headers: usize,
    /// Connections open at once; `0` derives it from the open-file limit.
    /// At the cap the server stops accepting until one closes.
    pub max_connections: usize,
    /// Time a client has to send a request's body, counted from when its
    /// headers arrived; a body still incomplete then is answered 408.
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(15),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_connections: 0,
            body_read_timeout: Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// `max_connections`, resolving `0` against the open-file limit.
    pub fn connection_cap(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let fds = open_file_limit().unwrap_or(1024);
        usize::try_from(fds.saturating_sub(RESERVED_FDS).max(64)).unwrap_or(usize::MAX)
    }
}

/// The soft open-file limit, if the platform has one.
#[cfg(unix)]
pub fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
pub fn open_file_limit() -> Option<u64> {
    None
}

/// Raise the soft open-file limit to the hard one, so a busy server is
/// bounded by what the operator allows rather than a login default (often
/// 1024). Returns the limit now in force.
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %err, "cannot raise the open-file limit");
        }
    }
    open_file_limit()
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Serve `router` on `listener` until `shutdown` completes, then stop
/// accepting and wait for in-flight requests to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(limits.max_headers);
    let router = deadline::layer(router, limits.body_read_timeout);
    let cap = limits.connection_cap();
    tracing::info!(max_connections = cap, "accepting connections");
    let permits = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors or memory: back off rather than
                    // spin; a reset before accept is the client's business.
                    if !is_connection_error(&err) {
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let open = metrics::gauge!("allele_http_connections");
        open.increment(1.0);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %remote, "connection ended");
            }
            open.decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn is_connection_error(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_cap_wins_and_the_derived_one_leaves_room() {
        let limits = Limits {
            max_connections: 7,
            ..Limits::default()
        };
        assert_eq!(limits.connection_cap(), 7);
        let derived = Limits::default().connection_cap();
        assert!(derived >= 64);
        if let Some(fds) = open_file_limit() {
            assert!((derived as u64) < fds.max(65), "{derived} vs {fds}");
        }
    }
}
