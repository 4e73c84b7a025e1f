//! The active products, kept in memory on every node so that catalog and
//! product pages need no query.
//!
//! PostgreSQL says when they change: a trigger on `products` sends
//! `NOTIFY catalog_changed` at commit (stock reserved or released by a
//! checkout, a price edited, a product added), and each node's listener marks
//! its copy stale; the next page reads the products again, once for all the
//! requests waiting on it. While the listener is not connected (at start,
//! after a database restart), pages read the database directly.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use diesel_async::SimpleAsyncConnection;
use futures_util::StreamExt;

use super::domain::Product;
use super::store;
use crate::config::Secret;
use crate::db::DbError;
use crate::db::DbPool;
use crate::ids::ProductSlug;

/// A notification lost without the connection reporting an error (a silent
/// network partition) keeps a stale copy at most this long.
const MAX_AGE: Duration = Duration::from_secs(30);
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Catalog {
    /// Bumped by every notification and every (re)connection of the listener;
    /// a snapshot of an older generation is stale.
    generation: AtomicU64,
    listening: AtomicBool,
    current: RwLock<Option<Arc<Snapshot>>>,
    /// One reload at a time; the requests that find the copy stale meanwhile
    /// wait for it instead of querying too.
    reload: tokio::sync::Mutex<()>,
}

/// The active products at one moment, sorted by name.
pub struct Snapshot {
    generation: u64,
    loaded_at: Instant,
    products: Vec<Product>,
    by_slug: HashMap<String, usize>,
}

impl Snapshot {
    fn new(generation: u64, products: Vec<Product>) -> Snapshot {
        let by_slug = products
            .iter()
            .enumerate()
            .map(|(i, product)| (product.slug.clone(), i))
            .collect();
        Snapshot {
            generation,
            loaded_at: Instant::now(),
            products,
            by_slug,
        }
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn find(&self, slug: &ProductSlug) -> Option<&Product> {
        self.by_slug.get(slug.as_str()).map(|&i| &self.products[i])
    }
}

impl Catalog {
    /// The active products, from memory when nothing changed since they were
    /// read; else read through `db`, the asking request's pool.
    pub async fn snapshot(&self, db: &DbPool) -> Result<Arc<Snapshot>, DbError> {
        if !self.listening.load(Ordering::Acquire) {
            return Ok(Arc::new(self.load(db).await?));
        }
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _one_at_a_time = self.reload.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let snapshot = Arc::new(self.load(db).await?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(snapshot.clone());
        Ok(snapshot)
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let unchanged = current.generation == self.generation.load(Ordering::Acquire);
        (unchanged && current.loaded_at.elapsed() < MAX_AGE).then_some(current)
    }

    async fn load(&self, db: &DbPool) -> Result<Snapshot, DbError> {
        // Read before the query: a change committed during it leaves the
        // snapshot stale at once.
        let generation = self.generation.load(Ordering::Acquire);
        let products = store::list_active(&mut *db.get().await?).await?;
        Ok(Snapshot::new(generation, products))
    }

    /// Listens for `catalog_changed` on a connection of its own until the
    /// task is aborted, reconnecting with backoff when the connection is lost.
    pub async fn listen(self: Arc<Self>, url: Secret) {
        let mut backoff = RECONNECT_FIRST;
        loop {
            let error = self.listen_once(&url, &mut backoff).await;
            self.listening.store(false, Ordering::Release);
            tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "catalog listener disconnected");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RECONNECT_MAX);
        }
    }

    async fn listen_once(&self, url: &Secret, backoff: &mut Duration) -> anyhow::Error {
        let mut conn = match crate::db::connect(url).await {
            Ok(conn) => conn,
            Err(e) => return e.context("connecting"),
        };
        if let Err(e) = conn.batch_execute("LISTEN catalog_changed").await {
            return anyhow::Error::from(e).context("LISTEN");
        }
        // Changes made while nobody listened came with no notification.
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.listening.store(true, Ordering::Release);
        *backoff = RECONNECT_FIRST;
        let mut notifications = pin!(conn.notifications_stream());
        while let Some(notification) = notifications.next().await {
            if let Err(e) = notification {
                return anyhow::Error::from(e);
            }
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        anyhow::anyhow!("the connection closed")
    }
}
