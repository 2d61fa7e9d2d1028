//! The single writer: one thread owns the write connection and commits in
//! groups.
//!
//! Requests queue up while the previous commit's fsync runs; the writer then
//! takes everything waiting (up to [`MAX_GROUP_WEIGHT`] events), applies each
//! job inside its own savepoint so one failing job cannot undo another, commits
//! once, and only then answers every job. Under load this amortises one fsync
//! over many requests; when idle a lone request commits at once.

use crate::StoreError;
use rusqlite::Connection;
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
pub type Work = Box<dyn FnOnce(&Connection) -> Result<Reply, (StoreError, Reply)> + Send>;

pub struct Job {
    pub weight: usize,
    pub work: Work,
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

pub fn spawn(conn: Connection) -> std::io::Result<(WriterHandle, std::thread::JoinHandle<()>)> {
    let (sender, receiver) = mpsc::sync_channel(QUEUE_DEPTH);
    let thread = std::thread::Builder::new()
        .name("allele-writer".into())
        .spawn(move || run(conn, receiver))?;
    Ok((WriterHandle { sender }, thread))
}

fn run(mut conn: Connection, receiver: Receiver<Job>) {
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
        commit_group(&mut conn, group, weight);
    }
    tracing::debug!("writer stopped: all handles dropped");
}

fn commit_group(conn: &mut Connection, group: Vec<Job>, weight: usize) {
    let started = Instant::now();
    let mut replies: Vec<(Reply, Option<StoreError>)> = Vec::with_capacity(group.len());
    let outcome = (|| -> Result<(), StoreError> {
        let mut tx = conn.transaction()?;
        for job in group {
            let savepoint = tx.savepoint()?;
            match (job.work)(&savepoint) {
                Ok(reply) => {
                    savepoint.commit()?;
                    replies.push((reply, None));
                }
                Err((error, reply)) => {
                    drop(savepoint);
                    replies.push((reply, Some(error)));
                }
            }
        }
        tx.commit()?;
        Ok(())
    })();
    metrics::histogram!("allele_commit_seconds").record(started.elapsed().as_secs_f64());
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
