//! The single writer: one thread owns the write connection and commits in
//! groups.
//!
//! Requests queue up while the previous commit's fsync runs; the writer then
//! takes everything waiting (up to [`MAX_GROUP_WEIGHT`] events), applies each
//! job inside its own savepoint so one failing job cannot undo another, commits
//! once, and only then answers every job. Under load this amortises one fsync
//! over many requests; when idle a lone request commits at once.

use crate::StoreError;
use crate::cache::IdentityCache;
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

/// Events (or other units of work) gathered into one commit at most.
pub const MAX_GROUP_WEIGHT: usize = 1_000;
/// How long a group may keep collecting once it has started.
const MAX_GROUP_WAIT: Duration = Duration::from_millis(2);
/// Jobs that may wait for the writer before callers see back-pressure.
const QUEUE_DEPTH: usize = 4_096;

/// Called after the group's commit with its outcome.
pub type Reply = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// Work done inside the group's transaction. Returning `Err` rolls back this
/// job's savepoint only; the reply is still called (with the job's error).
pub type Work =
    Box<dyn FnOnce(&Connection, &mut IdentityCache) -> Result<Reply, (StoreError, Reply)> + Send>;

pub struct Job {
    pub weight: usize,
    /// Run inside its own savepoint, so that its error undoes only itself.
    /// Jobs that can only fail when the store itself fails (ingest) skip
    /// it: a savepoint makes SQLite journal every page the job touches, and
    /// an error in such a job fails the whole group anyway.
    pub isolated: bool,
    pub work: Work,
    /// When the job was queued (the queue wait is a metric).
    pub queued_at: Instant,
}

#[derive(Clone)]
pub struct WriterHandle {
    sender: SyncSender<Job>,
}

impl WriterHandle {
    /// Queue a job; fails fast when the queue is full so HTTP can answer 503.
    pub fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.sender.try_send(job).map_err(|err| match err {
            mpsc::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::TrySendError::Disconnected(_) => StoreError::Closed,
        })
    }
}

/// `backlog` is the WAL frames the background checkpointer had not yet
/// copied when it last ran (see [`restart_wal_if_large`]).
pub fn spawn(
    conn: Connection,
    backlog: Arc<AtomicU64>,
) -> Result<(WriterHandle, std::thread::JoinHandle<()>), StoreError> {
    // Loaded by the first group, on the writer thread: a process that only
    // reads (`allele report`) never pays for it, and `serve` writes once
    // before it listens, so it is warm before the first request.
    let mut cache = IdentityCache::default();
    cache.mark_stale();
    let (sender, receiver) = mpsc::sync_channel(QUEUE_DEPTH);
    let thread = std::thread::Builder::new()
        .name("allele-writer".into())
        .spawn(move || run(conn, cache, receiver, &backlog))?;
    Ok((WriterHandle { sender }, thread))
}

fn run(
    mut conn: Connection,
    mut cache: IdentityCache,
    receiver: Receiver<Job>,
    backlog: &AtomicU64,
) {
    while let Ok(first) = receiver.recv() {
        let started = Instant::now();
        let mut weight = first.weight;
        let mut group = vec![first];
        while weight < MAX_GROUP_WEIGHT && started.elapsed() < MAX_GROUP_WAIT {
            match receiver.try_recv() {
                Ok(job) => {
                    weight += job.weight;
                    group.push(job);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        commit_group(&mut conn, &mut cache, group, weight);
        restart_wal_if_large(&conn, backlog);
    }
    tracing::debug!("writer stopped: all handles dropped");
}

fn commit_group(conn: &mut Connection, cache: &mut IdentityCache, group: Vec<Job>, weight: usize) {
    let started = Instant::now();
    let mut replies: Vec<(Reply, Option<StoreError>)> = Vec::with_capacity(group.len());
    let jobs = group.len();
    let mut applied_at = started;
    let outcome = (|| -> Result<(), StoreError> {
        cache.refresh_if_stale(conn)?;
        let tx = conn.transaction()?;
        for job in group {
            metrics::histogram!("allele_writer_queue_seconds")
                .record(started.duration_since(job.queued_at).as_secs_f64());
            // Cached statements: `Savepoint` would re-parse its SQL per job.
            if job.isolated {
                tx.prepare_cached("SAVEPOINT job")?.execute([])?;
            }
            match (job.work)(&tx, cache) {
                Ok(reply) => {
                    if job.isolated {
                        tx.prepare_cached("RELEASE job")?.execute([])?;
                    }
                    cache.keep_job();
                    replies.push((reply, None));
                }
                Err((error, reply)) if job.isolated => {
                    tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
                    tx.prepare_cached("RELEASE job")?.execute([])?;
                    cache.undo_job();
                    replies.push((reply, Some(error)));
                }
                Err((error, reply)) => {
                    let message = error.to_string();
                    replies.push((reply, Some(error)));
                    for (reply, _) in replies.drain(..) {
                        reply(Err(&StoreError::Failed(message.clone())));
                    }
                    // Dropping `tx` rolls the whole group back.
                    return Err(StoreError::Failed(format!(
                        "a write failed, group rolled back: {message}"
                    )));
                }
            }
        }
        applied_at = Instant::now();
        tx.commit()?;
        Ok(())
    })();
    if outcome.is_err() {
        cache.mark_stale();
    }
    metrics::histogram!("allele_commit_seconds").record(started.elapsed().as_secs_f64());
    // Applying the jobs vs `COMMIT` (the WAL write and its fsync).
    metrics::histogram!("allele_commit_apply_seconds")
        .record(applied_at.duration_since(started).as_secs_f64());
    metrics::histogram!("allele_commit_fsync_seconds").record(applied_at.elapsed().as_secs_f64());
    metrics::histogram!("allele_commit_group_jobs").record(jobs as f64);
    metrics::histogram!("allele_commit_group_events").record(weight as f64);
    if let Err(error) = &outcome {
        tracing::error!(%error, "group commit failed; no job in it is acknowledged");
    }
    for (reply, job_error) in replies {
        match (&outcome, job_error) {
            (Err(error), _) => reply(Err(error)),
            (Ok(()), Some(error)) => reply(Err(&error)),
            (Ok(()), None) => reply(Ok(())),
        }
    }
}

/// WAL size at which the writer itself checkpoints between groups.
const RESTART_WAL_AT_BYTES: u64 = 96 << 20;

/// The most WAL frames the writer copies itself (32 MB of 4 KB pages).
const WRITER_CATCH_UP_FRAMES: u64 = 8_192;

/// A WAL this large is checkpointed by the writer whatever the backlog.
const WAL_HARD_LIMIT_BYTES: u64 = 1 << 30;

/// The background checkpointer copies pages while the writer appends, but
/// only a checkpoint that catches up with the last frame lets the log start
/// over. Between groups the writer is idle, so it finishes the job itself,
/// but only once the background thread has copied nearly everything: while
/// a long read (a report scanning millions of rows) pins an old snapshot,
/// nothing past it can be copied, the backlog grows, and a writer that
/// copied it all after the read ended stalled every write behind it for
/// hundreds of milliseconds. `journal_size_limit` then trims the file.
fn restart_wal_if_large(conn: &Connection, backlog: &AtomicU64) {
    let Some(path) = conn.path() else { return };
    let wal = format!("{path}-wal");
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    if size < RESTART_WAL_AT_BYTES
        || (backlog.load(Ordering::Relaxed) > WRITER_CATCH_UP_FRAMES && size < WAL_HARD_LIMIT_BYTES)
    {
        return;
    }
    match passive_checkpoint(conn) {
        Ok(left) => backlog.store(left, Ordering::Relaxed),
        Err(error) => tracing::warn!(%error, "writer checkpoint failed; will retry"),
    }
}

/// A `PASSIVE` checkpoint (it never waits for readers or the writer); the
/// frames it could not copy.
pub(crate) fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<u64> {
    let (log, copied): (i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get(1)?, row.get(2)?))
        })?;
    Ok(u64::try_from(log - copied).unwrap_or(0))
}
