//! The embedded store: one SQLite file per data directory, written by a
//! single group-committing writer and read through a small connection pool.
//!
//! Acknowledgement contract: [`SqliteStore::ingest`] returns only after the
//! transaction holding the events (and their messageIds) has been committed
//! with `synchronous=FULL`, i.e. fsync'd.

pub mod access;
pub mod arms;
pub mod bundles;
pub mod cache;
pub mod clickstream;
pub mod consent;
pub mod console;
pub mod edge;
pub mod edge_status;
pub mod erase;
pub mod facts;
pub mod grants;
pub mod guard;
pub mod ideas;
pub mod identity;
pub mod ingest;
pub mod journeys;
pub mod keys;
pub mod lift;
pub mod listen;
pub mod outbox;
pub mod read;
pub mod reports;
pub mod rollups;
mod schema;
pub mod segment_members;
pub mod segments;
pub mod webhooks;
pub mod writer;

use allele_types::segment::Message;
use rusqlite::OpenFlags;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub use ingest::IngestSummary;
pub use keys::{NewWorkspace, Role};
pub use read::{EventPage, ProfileView};
pub use rusqlite::Connection;

pub const DB_FILE: &str = "allele.db";
const READERS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored json is corrupt: {0}")]
    Json(#[from] serde_json::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the data directory is full")]
    Full,
    #[error("the writer queue is full")]
    Overloaded,
    #[error("the store is shut down")]
    Closed,
    #[error("no profile answers to this reference")]
    ProfileNotFound,
    #[error("the profile has no merge to undo")]
    MergeNotFound,
    #[error("{0}")]
    Invalid(String),
    /// A failure already reported once, handed to another waiter.
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    /// SQLite reports a full disk as an error code, not an io error.
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Full => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => {
                err.code == rusqlite::ErrorCode::DiskFull
            }
            _ => false,
        }
    }
}

fn clone_error(err: &StoreError) -> StoreError {
    if err.is_full() {
        return StoreError::Full;
    }
    match err {
        StoreError::Overloaded => StoreError::Overloaded,
        StoreError::Closed => StoreError::Closed,
        StoreError::ProfileNotFound => StoreError::ProfileNotFound,
        StoreError::MergeNotFound => StoreError::MergeNotFound,
        StoreError::Invalid(message) => StoreError::Invalid(message.clone()),
        other => StoreError::Failed(other.to_string()),
    }
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub struct SqliteStore {
    path: PathBuf,
    writer: writer::WriterHandle,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
    stop: Arc<AtomicBool>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// WAL bytes after which the checkpointer copies pages back into the database.
const CHECKPOINT_AT_BYTES: u64 = 32 << 20;

fn spawn_checkpointer(
    path: &Path,
    stop: Arc<AtomicBool>,
    backlog: Arc<AtomicU64>,
) -> Result<(), StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    let wal = path.with_extension("db-wal");
    std::thread::Builder::new()
        .name("allele-checkpoint".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                if size < CHECKPOINT_AT_BYTES {
                    continue;
                }
                // PASSIVE never blocks the writer; it copies what it can,
                // and what it could not tells the writer whether finishing
                // the job is cheap.
                match writer::passive_checkpoint(&conn) {
                    Ok(left) => backlog.store(left, Ordering::Relaxed),
                    Err(error) => {
                        tracing::warn!(%error, "background checkpoint failed; will retry")
                    }
                }
            }
        })?;
    Ok(())
}

impl SqliteStore {
    /// Open (creating if needed) the store in `dir`, run migrations, start the writer.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        // The hot path uses ~25 distinct statements; rusqlite keeps 16 by
        // default, and a miss re-parses SQL on every event.
        conn.set_prepared_statement_cache_capacity(128);
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            // Memory-mapped reads: a readout's scans of millions of fact
            // rows otherwise copy every page out of the OS cache (a tenth
            // of its CPU time).
            reader.execute_batch(
                "PRAGMA busy_timeout=10000; PRAGMA cache_size=-32768; PRAGMA mmap_size=2147418112;",
            )?;
            // A decision alone runs ~15 distinct reads; with rusqlite's
            // default of 16 cached statements readers kept re-parsing SQL.
            reader.set_prepared_statement_cache_capacity(128);
            readers.push(Mutex::new(reader));
        }
        // Checkpoints run on their own thread so the writer only appends.
        conn.execute_batch("PRAGMA wal_autocheckpoint=0;")?;
        let stop = Arc::new(AtomicBool::new(false));
        let backlog = Arc::new(AtomicU64::new(0));
        spawn_checkpointer(&path, Arc::clone(&stop), Arc::clone(&backlog))?;
        let (writer, _thread) = writer::spawn(conn, backlog)?;
        Ok(SqliteStore {
            path,
            writer,
            stop,
            readers: Arc::new(readers),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Fold the WAL back into the database file (on clean shutdown and after
    /// erasure), so no deleted bytes linger in the log.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `work` in the writer's next group; resolves after the commit.
    /// `work` must not change identities or profile roots (use
    /// [`SqliteStore::write_resolving`] for that): the writer's cache would
    /// not see it.
    pub async fn write<T, F>(&self, weight: usize, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_with_cache(weight, true, move |conn, _| work(conn))
            .await
    }

    /// Run `work` with an identity [`identity::Resolver`] for workspace `ws`.
    pub async fn write_resolving<T, F>(
        &self,
        ws: &str,
        weight: usize,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut identity::Resolver<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.resolving(ws, weight, true, work).await
    }

    async fn resolving<T, F>(
        &self,
        ws: &str,
        weight: usize,
        isolated: bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut identity::Resolver<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let ws = ws.to_string();
        self.write_with_cache(weight, isolated, move |conn, cache| {
            let mut resolver = identity::Resolver {
                conn,
                ws: &ws,
                now: now_ms(),
                cache,
            };
            work(&mut resolver)
        })
        .await
    }

    async fn write_with_cache<T, F>(
        &self,
        weight: usize,
        isolated: bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut cache::IdentityCache) -> Result<T, StoreError> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel::<Result<T, StoreError>>();
        let job = writer::Job {
            weight,
            isolated,
            queued_at: std::time::Instant::now(),
            work: Box::new(move |conn: &Connection, cache: &mut cache::IdentityCache| {
                match work(conn, cache) {
                    Ok(value) => {
                        let reply: writer::Reply = Box::new(move |committed| {
                            let _ = sender.send(committed.map(|()| value).map_err(clone_error));
                        });
                        Ok(reply)
                    }
                    Err(error) => {
                        let message = clone_error(&error);
                        let reply: writer::Reply = Box::new(move |_| {
                            let _ = sender.send(Err(message));
                        });
                        Err((error, reply))
                    }
                }
            }),
        };
        self.writer.submit(job)?;
        receiver.await.map_err(|_| StoreError::Closed)?
    }

    /// Run `work` on a read connection off the async threads.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
        let pool = Arc::clone(&self.readers);
        let asked = std::time::Instant::now();
        tokio::task::spawn_blocking(move || {
            // The first idle connection from `index` on; wait for `index`
            // itself only when every one is busy (a long scan on one must
            // not hold up a short read that another could serve).
            let idle = (0..pool.len()).find_map(|offset| {
                pool.get((index + offset) % pool.len())
                    .and_then(|slot| slot.try_lock().ok())
            });
            let conn = match idle {
                Some(conn) => conn,
                None => {
                    let Some(slot) = pool.get(index) else {
                        return Err(StoreError::Closed);
                    };
                    slot.lock().map_err(|_| StoreError::Closed)?
                }
            };
            metrics::histogram!("allele_read_wait_seconds").record(asked.elapsed().as_secs_f64());
            work(&conn)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Run `work` on two idle read connections at once (a long scan split
    /// in two), or on one (`None` for the second) when fewer are idle: it
    /// never waits for a second connection, so two callers cannot deadlock.
    pub async fn read_pair<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, Option<&mut Connection>) -> Result<T, StoreError>
            + Send
            + 'static,
    {
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
        let pool = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let mut idle = (0..pool.len()).filter_map(|offset| {
                pool.get((index + offset) % pool.len())
                    .and_then(|slot| slot.try_lock().ok())
            });
            let (first, second) = (idle.next(), idle.next());
            drop(idle);
            let mut first = match first {
                Some(conn) => conn,
                None => pool
                    .get(index)
                    .ok_or(StoreError::Closed)?
                    .lock()
                    .map_err(|_| StoreError::Closed)?,
            };
            let mut second = second;
            work(&mut first, second.as_deref_mut())
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Ingest `messages` and run `work` in the same transaction: both are
    /// durable when this returns, or neither is.
    pub async fn write_ingest<T, F>(
        &self,
        ws: &str,
        weight: usize,
        messages: Vec<Message>,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let messages = messages
            .into_iter()
            .map(ingest::Prepared::new)
            .collect::<Result<Vec<_>, _>>()?;
        self.resolving(ws, weight, true, move |resolver| {
            let value = work(resolver.conn)?;
            ingest::apply(resolver, messages)?;
            Ok(value)
        })
        .await
    }

    pub async fn ingest(
        &self,
        ws: &str,
        messages: Vec<Message>,
    ) -> Result<IngestSummary, StoreError> {
        let weight = messages.len();
        let messages = messages
            .into_iter()
            .map(ingest::Prepared::new)
            .collect::<Result<Vec<_>, _>>()?;
        // Not isolated: a parsed batch can only fail here if the store does.
        self.resolving(ws, weight, false, move |resolver| {
            ingest::apply(resolver, messages)
        })
        .await
    }
}
