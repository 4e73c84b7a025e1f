//! Reads a hot standby may serve (`DATABASE_READ_URL`) without any client
//! ever seeing less than it was already told, whichever node it asks:
//! read-your-writes across nodes, for every client, with no state shared
//! between nodes.
//!
//! A read first asks the primary how far its WAL reached
//! (`pg_current_wal_insert_lsn()`, no table touched) in a query that began
//! after the read did: every write any client was answered for before it
//! asked lies before that position. The standby serves the read once it has
//! replayed past it (`pg_last_wal_replay_lsn()`, asked on the connection
//! that then reads, so a pool behind many standbys is fine). A standby still
//! behind after `REPLAY_WAIT`, down or failing leaves the read to the
//! primary, and one that failed is left alone for `REST`.
//!
//! Reads that arrive while the primary is being asked wait for that answer
//! and then share the next one, which begins after they arrived: under load
//! the primary answers about one such query per round trip per worker, not
//! one per read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};

use super::{DbConn, DbError, DbPool, Statement};

/// How long a read waits for the standby to replay what it must show.
const REPLAY_WAIT: Duration = Duration::from_millis(50);
/// How long reads skip a standby that failed.
const REST: Duration = Duration::from_secs(5);

/// Where the primary's WAL had reached: PostgreSQL's `pg_lsn` as text,
/// handed from the primary to the standby as it is.
#[derive(Debug, Clone, QueryableByName)]
struct WalPosition {
    #[diesel(sql_type = Text)]
    lsn: String,
}

#[derive(QueryableByName)]
struct Replayed {
    #[diesel(sql_type = Bool)]
    caught_up: bool,
}

/// The connections reads take: from the standby when it has caught up,
/// else from the primary. One per HTTP worker, like its pools.
pub struct Reads {
    primary: DbPool,
    standby: Option<Standby>,
    stats: Arc<ReadStats>,
}

struct Standby {
    pool: DbPool,
    /// The primary's position as last asked, and when the asking began.
    asked: tokio::sync::Mutex<Option<(Instant, WalPosition)>>,
    /// Reads leave the standby alone until then, after a failure.
    resting_until: Mutex<Option<Instant>>,
}

/// Reads by the server that served them, and reads the standby could not
/// take: one count per node, shared by its workers.
#[derive(Debug, Default)]
pub struct ReadStats {
    standby: AtomicU64,
    primary: AtomicU64,
    behind: AtomicU64,
    unavailable: AtomicU64,
}

/// The counts of `ReadStats`, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCounts {
    pub standby: u64,
    pub primary: u64,
    /// Reads the primary took because the standby had not replayed far enough in time.
    pub behind: u64,
    /// Reads the primary took because the standby failed or was resting.
    pub unavailable: u64,
}

impl ReadStats {
    pub fn counts(&self) -> ReadCounts {
        ReadCounts {
            standby: self.standby.load(Ordering::Relaxed),
            primary: self.primary.load(Ordering::Relaxed),
            behind: self.behind.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
        }
    }
}

impl Reads {
    /// Reads from `standby` when given, else all from `primary`.
    pub fn new(primary: DbPool, standby: Option<DbPool>, stats: Arc<ReadStats>) -> Reads {
        Reads {
            primary,
            standby: standby.map(|pool| Standby {
                pool,
                asked: tokio::sync::Mutex::new(None),
                resting_until: Mutex::new(None),
            }),
            stats,
        }
    }

    /// A connection that shows at least every write answered before this
    /// call.
    pub async fn get(&self) -> Result<DbConn, DbError> {
        if let Some(standby) = self.standby.as_ref().filter(|s| s.awake()) {
            let arrived = Instant::now();
            let target = standby.primary_position(arrived, &self.primary).await?;
            match standby.caught_up(&target).await {
                Ok(Some(conn)) => {
                    self.stats.standby.fetch_add(1, Ordering::Relaxed);
                    return Ok(conn);
                }
                Ok(None) => {
                    self.stats.behind.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::warn!(error = %error, "the standby failed a read; the primary takes reads for a while");
                    standby.rest();
                    self.stats.unavailable.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if self.standby.is_some() {
            self.stats.unavailable.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.primary.fetch_add(1, Ordering::Relaxed);
        Ok(self.primary.get().await?)
    }
}

impl Standby {
    fn awake(&self) -> bool {
        let resting = self
            .resting_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        resting.is_none_or(|until| Instant::now() >= until)
    }

    fn rest(&self) {
        *self
            .resting_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + REST);
    }

    /// The primary's position from a query that began after `arrived`: the
    /// last one asked if it did, else a new one (one at a time; those who
    /// wait for it then share it).
    async fn primary_position(
        &self,
        arrived: Instant,
        primary: &DbPool,
    ) -> Result<WalPosition, DbError> {
        use diesel_async::RunQueryDsl;
        let mut asked = self.asked.lock().await;
        if let Some((began, position)) = asked.as_ref()
            && *began >= arrived
        {
            return Ok(position.clone());
        }
        let began = Instant::now();
        let position: WalPosition =
            Statement::new("SELECT pg_current_wal_insert_lsn()::text AS lsn")
                .get_result(&mut *primary.get().await?)
                .await?;
        *asked = Some((began, position.clone()));
        Ok(position)
    }

    /// A standby connection that has replayed past `target`, waiting up to
    /// `REPLAY_WAIT`; `None` if it is still behind. A server that replays
    /// nothing is a primary, current by definition.
    async fn caught_up(&self, target: &WalPosition) -> Result<Option<DbConn>, DbError> {
        use diesel_async::RunQueryDsl;
        let mut conn = self.pool.get().await?;
        let deadline = Instant::now() + REPLAY_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            let replayed: Replayed = Statement::new(
                "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true) AS caught_up",
            )
            .bind::<Text, _>(&target.lsn)
            .get_result(&mut *conn)
            .await?;
            if replayed.caught_up {
                return Ok(Some(conn));
            }
            if Instant::now() + pause > deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
}
