//! Connection limits shared by `allele serve` and `allele edge`.

use allele_server::conn::Limits;
use clap::Args;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Seconds a client has to send a request's headers; also how long an
    /// idle keep-alive connection stays open.
    #[arg(long, default_value_t = Limits::default().header_read_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout: u64,
    /// Bytes of request line and headers accepted; more is answered 431.
    #[arg(long, default_value_t = Limits::default().max_header_bytes as u64,
          value_parser = clap::value_parser!(u64).range(1024..=1_048_576))]
    pub max_header_bytes: u64,
    /// Header fields accepted in one request; more is answered 431.
    #[arg(long, default_value_t = Limits::default().max_headers as u64,
          value_parser = clap::value_parser!(u64).range(8..=1000))]
    pub max_headers: u64,
    /// Connections open at once (the server stops accepting at the cap);
    /// 0 derives it from the open-file limit, less 256 kept for the store.
    #[arg(long, default_value_t = 0)]
    pub max_connections: u64,
    /// Seconds a client has to send a request's body once its headers
    /// arrived; a body still incomplete then is answered 408.
    #[arg(long, default_value_t = Limits::default().body_read_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout: u64,
}

impl Default for LimitArgs {
    fn default() -> Self {
        let limits = Limits::default();
        LimitArgs {
            header_read_timeout: limits.header_read_timeout.as_secs(),
            max_header_bytes: limits.max_header_bytes as u64,
            max_headers: limits.max_headers as u64,
            max_connections: limits.max_connections as u64,
            body_read_timeout: limits.body_read_timeout.as_secs(),
        }
    }
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Limits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            max_header_bytes: size(self.max_header_bytes),
            max_headers: size(self.max_headers),
            max_connections: size(self.max_connections),
            body_read_timeout: Duration::from_secs(self.body_read_timeout),
        }
    }
}

/// Raise the open-file limit before serving and say what it is.
pub fn raise_open_files() {
    match allele_server::conn::raise_open_file_limit() {
        Some(limit) => tracing::info!(limit, "open-file limit"),
        None => tracing::debug!("no open-file limit to raise"),
    }
}
