//! Group commit for hot writes: the writes of one kind that arrive on a worker
//! while its previous batch is in PostgreSQL go together, as one statement in
//! one transaction. One round trip, one executor run and one commit (one WAL
//! flush) then serve many requests; under load those, not the rows, were most
//! of a cart change's cost (BENCHMARKS.md). Unloaded, a write goes at once,
//! in a batch of one: nothing waits for a batch to fill.
//!
//! A request's answer still waits for its batch's commit, so it is as durable
//! as a write of its own. Writes with the same key (a cart) never share a
//! batch: they are applied one after another, as if each had its own
//! statement. When a batch's statement fails, each of its writes is tried
//! alone, so one bad write fails only its own request; so does a batch that
//! PostgreSQL ends as a deadlock (two batches waiting for each other's
//! lines, found within `deadlock_timeout`, 1 s).

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use diesel::result::QueryResult;
use diesel_async::AsyncPgConnection;
use tokio::sync::oneshot;

use super::{DbPool, PoolError};
use crate::metrics;

/// Most writes in one statement.
const MAX_BATCH: usize = 100;

/// One kind of write that can go to PostgreSQL in batches.
pub trait BatchWrite: Sized + 'static {
    /// Writes with the same key never share a batch.
    type Key: Eq + Hash;
    type Answer: 'static;
    /// The batch kind, for the metrics.
    const KIND: &'static str;

    fn key(&self) -> Self::Key;

    /// Applies `batch` all or nothing (one statement, or one transaction) and
    /// answers each write, in order.
    fn run(
        conn: &mut AsyncPgConnection,
        batch: &[Self],
    ) -> impl Future<Output = QueryResult<Vec<Self::Answer>>>;
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// No connection came from the pool in time (the database is down or
    /// saturated): shared by every write of the batch.
    #[error("no database connection")]
    Unavailable(#[source] Arc<PoolError>),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    /// The batch was dropped before it answered (its task panicked).
    #[error("the write batch was lost")]
    Lost,
}

impl From<PoolError> for BatchError {
    fn from(error: PoolError) -> Self {
        BatchError::Unavailable(Arc::new(error))
    }
}

/// One worker's queue of writes of kind `W`, and the task that drains it.
pub struct Batcher<W: BatchWrite> {
    pool: DbPool,
    queue: Mutex<Queue<W>>,
}

struct Queue<W: BatchWrite> {
    waiting: VecDeque<Pending<W>>,
    /// A task is writing batches; it takes what is waiting when it is done.
    draining: bool,
}

struct Pending<W: BatchWrite> {
    write: W,
    answer: oneshot::Sender<Result<W::Answer, BatchError>>,
}

impl<W: BatchWrite> Batcher<W> {
    pub fn new(pool: DbPool) -> Arc<Self> {
        Arc::new(Batcher {
            pool,
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                draining: false,
            }),
        })
    }

    /// Queues `write` and waits for its batch to be committed. Call on an
    /// HTTP worker (the batches run on its thread, with its pool). A request
    /// that stops waiting leaves its write queued: it still happens.
    pub async fn write(self: &Arc<Self>, write: W) -> Result<W::Answer, BatchError> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            queue.waiting.push_back(Pending { write, answer });
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            actix_web::rt::spawn(Arc::clone(self).drain());
        }
        answered.await.unwrap_or(Err(BatchError::Lost))
    }

    fn lock(&self) -> MutexGuard<'_, Queue<W>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn drain(self: Arc<Self>) {
        let _reset = ResetOnPanic(&*self);
        loop {
            let batch = self.next_batch();
            if batch.is_empty() {
                return;
            }
            self.run(batch).await;
        }
    }

    /// Up to `MAX_BATCH` waiting writes with distinct keys, oldest first;
    /// none means the queue is empty and draining stops.
    fn next_batch(&self) -> Vec<Pending<W>> {
        let mut queue = self.lock();
        let mut keys = HashSet::new();
        let mut batch = Vec::new();
        let mut later = VecDeque::new();
        while batch.len() < MAX_BATCH
            && let Some(pending) = queue.waiting.pop_front()
        {
            if keys.insert(pending.write.key()) {
                batch.push(pending);
            } else {
                later.push_back(pending);
            }
        }
        // Writes that share a key with one in this batch keep their place.
        later.append(&mut queue.waiting);
        queue.waiting = later;
        queue.draining = !batch.is_empty();
        batch
    }

    async fn run(&self, batch: Vec<Pending<W>>) {
        metrics::get().write_batch(W::KIND, batch.len());
        let mut conn = match self.pool.get().await {
            Ok(conn) => conn,
            Err(error) => {
                let error = Arc::new(error);
                for pending in batch {
                    let _ = pending
                        .answer
                        .send(Err(BatchError::Unavailable(Arc::clone(&error))));
                }
                return;
            }
        };
        let (writes, answers): (Vec<W>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.write, pending.answer))
            .unzip();
        match W::run(&mut conn, &writes).await {
            Ok(results) => {
                // Committed: never tried again. (A missing answer, which
                // `run` must not give, is `Lost`.)
                let mut results = results.into_iter();
                for answer in answers {
                    let _ = answer.send(results.next().ok_or(BatchError::Lost));
                }
            }
            Err(error) if writes.len() == 1 => {
                if let Some(answer) = answers.into_iter().next() {
                    let _ = answer.send(Err(error.into()));
                }
            }
            // Rolled back: each alone, so that the failure is only its own
            // write's. (Should the connection be lost, when the batch may
            // have committed, the client refuses each at once, sending
            // nothing: no write is applied twice.)
            Err(error) => {
                tracing::warn!(%error, kind = W::KIND, writes = writes.len(), "write batch failed; trying its writes one by one");
                for (write, answer) in writes.iter().zip(answers) {
                    let result = W::run(&mut conn, std::slice::from_ref(write))
                        .await
                        .map_err(BatchError::from)
                        .and_then(|mut results| results.pop().ok_or(BatchError::Lost));
                    let _ = answer.send(result);
                }
            }
        }
    }
}

/// Should a batch task panic, its queue must not stay "draining" with nobody
/// draining it: the waiting writes are dropped (their requests get `Lost`)
/// and the next write starts a new task.
struct ResetOnPanic<'a, W: BatchWrite>(&'a Batcher<W>);

impl<W: BatchWrite> Drop for ResetOnPanic<'_, W> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queue = self.0.lock();
            queue.waiting.clear();
            queue.draining = false;
        }
    }
}
