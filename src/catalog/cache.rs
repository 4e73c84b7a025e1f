//! What catalog pages need, kept in memory on every node so that they need
//! no query: products by slug, the first page of each listing, the
//! collections, and what searches found (`searches`). Each part is bounded;
//! nothing holds the whole catalog.
//!
//! PostgreSQL says what changes: a trigger sends `NOTIFY catalog_changed`
//! with the product's id at commit (stock reserved or released by a
//! checkout, a price edited, a product added or moved between
//! collections). Each node's listener notes the id; the next request that
//! reads the catalog reads those products again, in one query for all the
//! changes noted meanwhile (the other requests wait for it), and updates
//! them in place: a product page, a listing page it is on (or would now be
//! on) — never a reload of everything. While the listener is not connected
//! (at start, after a database restart), pages read the database directly;
//! when it reconnects, everything cached is dropped and read again as asked.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::domain::{CatalogChange, Collection, Product, Scope, Sort};
use super::paging::{Listing, Position};
use super::search::{CARDS_BUDGET, CardsBudget};
use super::store;
use crate::db::{DbError, Reads};
use crate::ids::ProductSlug;

/// A notification lost without the connection reporting an error (a silent
/// network partition) keeps a stale entry at most this long.
const MAX_AGE: Duration = Duration::from_secs(30);
/// Products kept by slug, at most: the most recently used.
const PRODUCTS_CAP: usize = 4096;
/// First pages of listings kept, at most (each collection has three sorts).
const LISTINGS_CAP: usize = 192;
/// More changed products than this at once (a bulk import) drop the
/// caches instead of reading them all.
const REFRESH_CAP: usize = 500;

mod listen;
mod searches;

pub use listen::CHANNEL;

pub use searches::{SEARCHES_CAP, SearchCacheStats};
use searches::{SearchCounts, Searches};

pub struct Catalog {
    /// The shop's public origin, for canonical links, sitemaps and previews.
    base_url: String,
    listening: AtomicBool,
    /// Bumped by every notification: a read that began before one may have
    /// seen the old rows and is served, but not kept.
    epoch: AtomicU64,
    /// The epoch whose changes are all applied to what is cached.
    applied: AtomicU64,
    /// Changes noted by the listener and not yet applied; `dirty` says
    /// whether there are any without taking the lock.
    pending: Mutex<Pending>,
    dirty: AtomicBool,
    cached: RwLock<Cached>,
    /// One refresh at a time; requests that find changes meanwhile wait for it.
    refresh: tokio::sync::Mutex<()>,
    searched: SearchCounts,
    /// What kept searches' rendered cards may take.
    cards_budget: Arc<CardsBudget>,
    /// Changes noted since the node started: each notification, and each
    /// connection of the listener (which drops everything).
    changes_noted: AtomicU64,
}

/// The node's catalog cache, for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct CatalogStats {
    /// Whether the listener is connected (memory is used only while it is).
    pub listening: bool,
    /// Changes noted since the node started (`Catalog::changes_noted`).
    pub changes_noted: u64,
    pub searches: SearchCacheStats,
}

#[derive(Default)]
struct Pending {
    products: HashSet<i64>,
    collections: bool,
    everything: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.products.is_empty() && !self.collections && !self.everything
    }
}

/// A cached value and when it was read.
struct Timed<T> {
    value: T,
    read_at: Instant,
}

impl<T: Clone> Timed<T> {
    fn new(value: T) -> Timed<T> {
        Timed {
            value,
            read_at: Instant::now(),
        }
    }

    fn fresh(&self) -> Option<T> {
        (self.read_at.elapsed() < MAX_AGE).then(|| self.value.clone())
    }
}

#[derive(Default)]
struct Cached {
    products: Products,
    /// First pages, by what they list and how they are sorted.
    listings: HashMap<(Scope, Sort), Timed<Arc<Listing>>>,
    collections: Option<Timed<Arc<[Collection]>>>,
    searches: Searches,
}

/// Products by slug in two generations: new entries go to `hot`; when it
/// is full it becomes `cold` (the old cold one is dropped), and a hit in
/// `cold` moves back to `hot`. At most `PRODUCTS_CAP` entries, the least
/// recently used dropped first, roughly.
#[derive(Default)]
struct Products {
    hot: Generation,
    cold: Generation,
}

#[derive(Default)]
struct Generation {
    by_slug: HashMap<String, Timed<Arc<Product>>>,
    slug_of: HashMap<i64, String>,
}

impl Generation {
    fn remove(&mut self, id: i64) -> bool {
        match self.slug_of.remove(&id) {
            Some(slug) => self.by_slug.remove(&slug).is_some(),
            None => false,
        }
    }
}

impl Products {
    /// A fresh entry, and whether it was found in the cold generation.
    fn get(&self, slug: &str) -> Option<(Arc<Product>, bool)> {
        if let Some(product) = self.hot.by_slug.get(slug).and_then(Timed::fresh) {
            return Some((product, false));
        }
        let product = self.cold.by_slug.get(slug).and_then(Timed::fresh)?;
        Some((product, true))
    }

    /// A fresh entry by id, and whether it was found in the cold generation.
    fn by_id(&self, id: i64) -> Option<(Arc<Product>, bool)> {
        let in_generation = |generation: &Generation| {
            let slug = generation.slug_of.get(&id)?;
            generation.by_slug.get(slug).and_then(Timed::fresh)
        };
        if let Some(product) = in_generation(&self.hot) {
            return Some((product, false));
        }
        Some((in_generation(&self.cold)?, true))
    }

    fn insert(&mut self, product: Arc<Product>) {
        self.remove(product.id);
        if self.hot.by_slug.len() >= PRODUCTS_CAP / 2 {
            self.cold = std::mem::take(&mut self.hot);
        }
        self.hot.slug_of.insert(product.id, product.slug.clone());
        self.hot
            .by_slug
            .insert(product.slug.clone(), Timed::new(product));
    }

    fn remove(&mut self, id: i64) -> bool {
        let hot = self.hot.remove(id);
        self.cold.remove(id) || hot
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.hot.by_slug.len() + self.cold.by_slug.len()
    }
}

/// What a product's change does to a cached first page.
enum Effect {
    Keep,
    /// It is on the page at this place and stays there: show the new row.
    Replace(usize),
    /// It left the page, moved on it, or now belongs on it: read it again.
    Drop,
}

fn effect(listing: &Listing, scope: Scope, now: &Product, collections: &[i64]) -> Effect {
    let in_scope = now.active
        && match scope {
            Scope::All => true,
            Scope::Collection(id) => collections.contains(&id),
        };
    match listing.products.iter().position(|p| p.id == now.id) {
        Some(i) if in_scope && listing.products[i].same_place(now) => Effect::Replace(i),
        Some(_) => Effect::Drop,
        None if !in_scope => Effect::Keep,
        None => match listing.last_key() {
            Some(last) if listing.is_full() => {
                if now.sort_key(listing.sort).precedes(last, listing.sort) {
                    Effect::Drop
                } else {
                    Effect::Keep
                }
            }
            _ => Effect::Drop,
        },
    }
}

impl Catalog {
    pub fn new(base_url: &str) -> Catalog {
        Catalog {
            base_url: base_url.trim_end_matches('/').to_owned(),
            listening: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            pending: Mutex::default(),
            dirty: AtomicBool::new(false),
            cached: RwLock::default(),
            refresh: tokio::sync::Mutex::new(()),
            searched: SearchCounts::default(),
            cards_budget: Arc::new(CardsBudget::new(CARDS_BUDGET)),
            changes_noted: AtomicU64::new(0),
        }
    }

    /// The shop's public origin, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The product on sale with `slug`.
    pub async fn product(
        &self,
        db: &Reads,
        slug: &ProductSlug,
    ) -> Result<Option<Arc<Product>>, DbError> {
        if self.catch_up(db).await? {
            let hit = self.read().products.get(slug.as_str());
            if let Some((product, cold)) = hit {
                if cold {
                    self.write().products.insert(product.clone());
                }
                return Ok(Some(product));
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let product = store::find_active(&mut *db.get().await?, slug).await?;
        let product = product.map(Arc::new);
        if let Some(product) = &product {
            self.keep(epoch, |cached| cached.products.insert(product.clone()));
        }
        Ok(product)
    }

    /// A page of the products on sale in `scope`; first pages from memory.
    pub async fn listing(
        &self,
        db: &Reads,
        scope: Scope,
        sort: Sort,
        position: Position,
    ) -> Result<Arc<Listing>, DbError> {
        let first = position == Position::First;
        if first && self.catch_up(db).await? {
            let hit = self
                .read()
                .listings
                .get(&(scope, sort))
                .and_then(Timed::fresh);
            if let Some(listing) = hit {
                return Ok(listing);
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let listing = Arc::new(store::listing(&mut *db.get().await?, scope, sort, position).await?);
        self.keep(epoch, |cached| {
            for product in &listing.products {
                cached.products.insert(product.clone());
            }
            if first {
                if cached.listings.len() >= LISTINGS_CAP {
                    cached.listings.clear();
                }
                cached
                    .listings
                    .insert((scope, sort), Timed::new(listing.clone()));
            }
        });
        Ok(listing)
    }

    /// Every collection.
    pub async fn collections(&self, db: &Reads) -> Result<Arc<[Collection]>, DbError> {
        if self.catch_up(db).await? {
            let hit = self.read().collections.as_ref().and_then(Timed::fresh);
            if let Some(collections) = hit {
                return Ok(collections);
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let collections: Arc<[Collection]> =
            store::collections(&mut *db.get().await?).await?.into();
        self.keep(epoch, |cached| {
            cached.collections = Some(Timed::new(collections.clone()));
        });
        Ok(collections)
    }

    /// Whether the node listens for changes, how many it was told of, and
    /// how searches were answered.
    pub fn stats(&self) -> CatalogStats {
        CatalogStats {
            listening: self.listening.load(Ordering::Acquire),
            changes_noted: self.changes_noted.load(Ordering::Relaxed),
            searches: self.search_cache_stats(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cached.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cached> {
        self.cached.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps what a read found, unless a change was noted since it began
    /// (the read may predate it) or nobody listens for changes.
    fn keep(&self, epoch: u64, update: impl FnOnce(&mut Cached)) {
        let mut cached = self.write();
        if self.listening.load(Ordering::Acquire) && self.epoch.load(Ordering::Acquire) == epoch {
            update(&mut cached);
        }
    }

    /// Applies the changes noted so far. Whether memory may be used: not
    /// while the listener is disconnected.
    async fn catch_up(&self, db: &Reads) -> Result<bool, DbError> {
        if !self.listening.load(Ordering::Acquire) {
            return Ok(false);
        }
        if !self.dirty.load(Ordering::Acquire) {
            return Ok(true);
        }
        let _one_at_a_time = self.refresh.lock().await;
        let (pending, epoch) = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            self.dirty.store(false, Ordering::Release);
            // Notes bump the epoch under this lock: these are all of its.
            let epoch = self.epoch.load(Ordering::Acquire);
            (std::mem::take(&mut *pending), epoch)
        };
        if pending.is_empty() {
            // Applied by the request this one waited for.
            return Ok(true);
        }
        if let Err(error) = self.apply(db, &pending).await {
            // Noted again, for the next request to try.
            let mut again = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            again.products.extend(&pending.products);
            again.collections |= pending.collections;
            again.everything |= pending.everything;
            self.dirty.store(true, Ordering::Release);
            return Err(error);
        }
        self.applied.fetch_max(epoch, Ordering::AcqRel);
        Ok(true)
    }

    async fn apply(&self, db: &Reads, pending: &Pending) -> Result<(), DbError> {
        if pending.everything || pending.products.len() > REFRESH_CAP {
            *self.write() = Cached::default();
            return Ok(());
        }
        let ids: Vec<i64> = pending.products.iter().copied().collect();
        let rows = if ids.is_empty() {
            Vec::new()
        } else {
            store::products_with_collections(&mut *db.get().await?, &ids).await?
        };
        let mut cached = self.write();
        if pending.collections {
            cached.collections = None;
            cached.listings.retain(|(scope, _), _| *scope == Scope::All);
        }
        let found: HashSet<i64> = rows.iter().map(|(product, _)| product.id).collect();
        for id in ids.iter().filter(|id| !found.contains(id)) {
            // Deleted: off every page.
            cached.products.remove(*id);
            cached
                .listings
                .retain(|_, listing| listing.value.products.iter().all(|p| p.id != *id));
        }
        for (product, collections) in rows {
            let product = Arc::new(product);
            if cached.products.remove(product.id) && product.active {
                cached.products.insert(product.clone());
            }
            cached.listings.retain(|(scope, _), listing| {
                match effect(&listing.value, *scope, &product, &collections) {
                    Effect::Keep => true,
                    Effect::Drop => false,
                    Effect::Replace(i) => {
                        listing.value = Arc::new(listing.value.with_product(i, product.clone()));
                        true
                    }
                }
            });
        }
        Ok(())
    }

    fn note(&self, change: CatalogChange) {
        self.changes_noted.fetch_add(1, Ordering::Relaxed);
        if matches!(change, CatalogChange::Search | CatalogChange::Everything) {
            // At once, not by the next request: a search kept before the
            // change is never served after this.
            self.write().searches.clear();
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match change {
            CatalogChange::Product(id) => {
                pending.products.insert(id);
            }
            CatalogChange::Collections => pending.collections = true,
            // The product's own notification refreshes it.
            CatalogChange::Search => return,
            CatalogChange::Everything => pending.everything = true,
        }
        self.dirty.store(true, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: i64) -> Arc<Product> {
        Arc::new(Product::sample(id, None))
    }

    /// A first page of the products with these ids, the highest newest.
    fn page(ids: std::ops::RangeInclusive<i64>) -> Listing {
        let rows = ids
            .rev()
            .enumerate()
            .map(|(i, id)| Product {
                created_at: chrono::DateTime::from_timestamp(1_000_000 - i as i64, 0).unwrap(),
                ..Product::clone(&product(id))
            })
            .collect();
        Listing::from_rows(Sort::Newest, Position::First, rows)
    }

    #[test]
    fn a_change_keeps_replaces_or_drops_a_cached_first_page() {
        let listing = page(1..=3);
        let on_page = Product::clone(&listing.products[1]);
        let mut restocked = on_page.clone();
        restocked.stock = Some(7);
        assert!(matches!(
            effect(&listing, Scope::All, &restocked, &[]),
            Effect::Replace(1)
        ));
        let mut repriced = on_page.clone();
        repriced.price_minor = 1;
        assert!(matches!(
            effect(&listing, Scope::All, &repriced, &[]),
            Effect::Drop
        ));
        let mut archived = on_page.clone();
        archived.active = false;
        assert!(matches!(
            effect(&listing, Scope::All, &archived, &[]),
            Effect::Drop
        ));
        assert!(matches!(
            effect(&listing, Scope::Collection(5), &restocked, &[5]),
            Effect::Replace(1)
        ));
        assert!(matches!(
            effect(&listing, Scope::Collection(5), &restocked, &[6]),
            Effect::Drop
        ));

        // A product not on the page: a page with room takes it; a full page
        // only if it sorts before the page's last product.
        let mut new = Product::clone(&product(99));
        assert!(matches!(
            effect(&listing, Scope::All, &new, &[]),
            Effect::Drop
        ));
        assert!(matches!(
            effect(&listing, Scope::Collection(5), &new, &[6]),
            Effect::Keep
        ));
        // 25 rows: a full page and more.
        let full = page(1..=25);
        assert!(full.is_full());
        assert!(
            matches!(effect(&full, Scope::All, &new, &[]), Effect::Drop),
            "newest"
        );
        new.created_at = chrono::DateTime::from_timestamp(10, 0).unwrap();
        assert!(
            matches!(effect(&full, Scope::All, &new, &[]), Effect::Keep),
            "older than the page"
        );
        new.active = false;
        assert!(matches!(
            effect(&listing, Scope::All, &new, &[]),
            Effect::Keep
        ));
    }

    #[test]
    fn products_by_slug_stay_within_their_cap_and_keep_the_recently_used() {
        let mut products = Products::default();
        products.insert(product(1));
        for id in 2..=10 * PRODUCTS_CAP as i64 {
            products.insert(product(id));
            // Product 1 is looked at all the time: it stays.
            if let Some((hit, true)) = products.get("product-1") {
                products.insert(hit);
            }
            assert!(products.len() <= PRODUCTS_CAP);
        }
        assert!(products.get("product-1").is_some());
        assert!(products.get("product-2").is_none(), "the least used went");
        assert!(products.remove(1));
        assert!(products.get("product-1").is_none());
        assert!(!products.remove(1));
    }
}
