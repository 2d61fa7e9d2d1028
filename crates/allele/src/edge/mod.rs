//! `allele edge`: a small process at a touchpoint (a store, a call centre,
//! an app backend) that decides locally with the centre's signed bundle and
//! keeps deciding when the centre is unreachable.
//!
//! - [`bundle`]: pulls the bundle with long-poll, verifies it against the
//!   pinned workspace key, keeps the last good one on disk and in memory.
//! - [`sync`]: the consent/limits snapshot and the outbox shipper.
//! - [`decide`]: `/v1/decide` on the local bundle, with consent failing
//!   closed when the snapshot is stale and caps held by leased budgets.
//! - [`serve`]: the local HTTP API (decide, outcomes, Segment ingest).
//! - [`report`]: the status (sync state, outbox, what it learned) it
//!   serves locally and reports to the centre.
//!
//! Everything the edge acknowledges is first committed to its own SQLite
//! data dir (the same store `allele serve` uses, with its group commit),
//! including an outbox row; the shipper uploads the outbox idempotently.

pub mod bundle;
pub mod decide;
pub mod report;
pub mod serve;
pub mod sync;

use allele_store::SqliteStore;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The workspace id of the edge's own store (local profiles and decisions).
pub const LOCAL_WS: &str = "edge";

#[derive(Args, Debug)]
pub struct EdgeArgs {
    /// The central server, e.g. `http://10.0.0.5:7070`.
    #[arg(long)]
    pub central: String,
    /// A `decide` key of the workspace: pulls bundles, uploads, and is the
    /// bearer local callers use for `/v1/decide`.
    #[arg(long, env = "ALLELE_EDGE_KEY")]
    pub key: String,
    #[arg(long, default_value = "./allele-edge-data")]
    pub data: PathBuf,
    #[arg(long, default_value = "127.0.0.1:7071")]
    pub listen: String,
    /// Marketing (consent-bound) actions fail closed when the consent
    /// snapshot is older than this; transactional ones are still allowed.
    #[arg(long, default_value = "15m", value_parser = parse_millis)]
    pub max_staleness: i64,
    /// The workspace's bundle-signing public key (hex). Without it the edge
    /// pins the key the centre reports on first contact (trust on first
    /// use) and refuses bundles signed by any other key afterwards.
    #[arg(long)]
    pub public_key: Option<String>,
    /// Write keys accepted on the local ingest endpoints (repeatable); the
    /// edge key is always accepted.
    #[arg(long)]
    pub write_key: Vec<String>,
    /// How often to ask the centre for consent and limit changes.
    #[arg(long, default_value = "5s", value_parser = parse_millis)]
    pub snapshot_every: i64,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
}

fn parse_millis(text: &str) -> Result<i64, String> {
    let nanos = allele_engine::cel::time::parse_duration(text)?;
    if nanos <= 0 {
        return Err(format!("`{text}` must be a positive duration"));
    }
    Ok((nanos / 1_000_000) as i64)
}

/// The verified bundle the edge decides with.
pub struct LocalBundle {
    pub version: u64,
    pub bundle: allele_engine::Bundle,
    pub workspace: String,
}

pub struct Edge {
    pub store: SqliteStore,
    pub central: String,
    pub key: String,
    pub write_keys: Vec<String>,
    pub edge_id: String,
    pub http: reqwest::Client,
    pub bundle: RwLock<Option<Arc<LocalBundle>>>,
    /// The pinned ed25519 key bundles must verify against.
    pub public_key: RwLock<Option<[u8; 32]>>,
    /// Unix ms of the last complete snapshot (0: never).
    pub snapshot_at: AtomicI64,
    pub max_staleness_ms: i64,
    pub snapshot_every_ms: i64,
    /// Wakes the shipper when the outbox grows.
    pub outbox_ready: tokio::sync::Notify,
    /// Whether the last call to the centre succeeded.
    pub central_up: AtomicBool,
    /// What learning propensities learned from this edge's own outcomes.
    pub learning: allele_server::arms::ArmCache,
}

impl Edge {
    pub fn current_bundle(&self) -> Option<Arc<LocalBundle>> {
        self.bundle.read().ok().and_then(|b| b.clone())
    }

    /// How old the consent snapshot is, in ms (`None`: never synced).
    pub fn snapshot_age(&self, now: i64) -> Option<i64> {
        match self.snapshot_at.load(Ordering::Relaxed) {
            0 => None,
            at => Some((now - at).max(0)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.central.trim_end_matches('/'))
    }
}

async fn state_or_create(
    store: &SqliteStore,
    key: &'static str,
    make: fn() -> String,
) -> Result<String, String> {
    store
        .write(1, move |conn| {
            if let Some(found) = allele_store::edge::state_get(conn, key)? {
                return Ok(found);
            }
            let value = make();
            allele_store::edge::state_set(conn, key, &value)?;
            Ok(value)
        })
        .await
        .map_err(|err| err.to_string())
}

/// A started edge: its state (with the bundle, snapshot, outbox and report
/// loops running) and its bound listener, not yet served.
pub struct Started {
    pub edge: Arc<Edge>,
    pub listener: tokio::net::TcpListener,
    pub addr: std::net::SocketAddr,
}

/// Open the data dir, bind, and start the loops that talk to the centre.
pub async fn start(args: EdgeArgs) -> Result<Started, String> {
    if !(args.central.starts_with("http://") || args.central.starts_with("https://")) {
        return Err(format!(
            "`--central` must be an http(s) url, got `{}`",
            args.central
        ));
    }
    let pinned_flag = match &args.public_key {
        Some(text) => Some(bundle::parse_key(text)?),
        None => None,
    };
    let store = crate::cli::open_store(&args.data)?;
    let edge_id = state_or_create(&store, "edge_id", || {
        allele_store::identity::new_id("edge_")
    })
    .await?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|err| format!("cannot build the http client: {err}"))?;
    let edge = Arc::new(Edge {
        store,
        central: args.central.clone(),
        key: args.key.clone(),
        write_keys: args.write_key.clone(),
        edge_id,
        http,
        bundle: RwLock::new(None),
        public_key: RwLock::new(None),
        snapshot_at: AtomicI64::new(0),
        max_staleness_ms: args.max_staleness,
        snapshot_every_ms: args.snapshot_every,
        outbox_ready: tokio::sync::Notify::new(),
        central_up: AtomicBool::new(false),
        learning: allele_server::arms::ArmCache::default(),
    });
    bundle::load(&edge, pinned_flag).await?;
    sync::load(&edge).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|err| format!("cannot listen on `{}`: {err}", args.listen))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    tokio::spawn(bundle::pull_loop(Arc::clone(&edge)));
    tokio::spawn(sync::snapshot_loop(Arc::clone(&edge)));
    tokio::spawn(sync::ship_loop(Arc::clone(&edge)));
    tokio::spawn(report::report_loop(Arc::clone(&edge)));
    Ok(Started {
        edge,
        listener,
        addr,
    })
}

pub async fn run(args: EdgeArgs) -> Result<(), String> {
    crate::limits::raise_open_files();
    let limits = args.limits.limits();
    let Started {
        edge,
        listener,
        addr,
    } = start(args).await?;
    println!(
        "{}",
        serde_json::json!({"listening": format!("http://{addr}"), "edge_id": edge.edge_id})
    );
    tracing::info!(%addr, central = %edge.central, "allele edge serving");
    serve::serve(Arc::clone(&edge), listener, &limits)
        .await
        .map_err(|err| format!("edge server failed: {err}"))?;
    let _ = edge
        .store
        .write(1, |conn| {
            Ok(conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?)
        })
        .await;
    Ok(())
}
