//! Search results kept on each node: what a page of a search found (its
//! products' ids in order, the next page's cursor, the corrections), by the
//! search's words and cursor. The products themselves come from the
//! product cache, so a page of results shows their stock and price as they
//! are now.
//!
//! A stock or price change does not touch them: it changes what a result
//! shows, not which products match or their order. A change to what search
//! looks at (a product added, deleted, renamed, described anew, taken off
//! sale) comes as a `search` notification besides the product's id, and
//! drops every search kept, at once (`Catalog::note`): such changes are
//! rare, and telling which kept searches a new name would join means
//! running them again anyway.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{Catalog, MAX_AGE};
use crate::catalog::domain::Product;
use crate::catalog::paging::SearchCursor;
use crate::catalog::query::SearchQuery;
use crate::catalog::search::{self, CardsBudget, Found, RenderedCards, SearchResults};
use crate::catalog::store;
use crate::db::{DbError, Reads};

/// Searches kept, at most: two generations of half as many, the least
/// recently used dropped first, roughly. An entry holds at most 8 words of
/// at most 100 characters in all, a cursor, 24 ids and a few corrections,
/// and its page's cards as last rendered (about 12 KB) while the node's
/// `CARDS_BUDGET` allows. The products it names are the product cache's,
/// not copies.
pub const SEARCHES_CAP: usize = 2048;

/// What a page of results depends on: the words (not the text as typed:
/// "Ceramic  MUG" is "ceramic mug") and where the page starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SearchKey {
    words: Box<[String]>,
    after: Option<SearchCursor>,
}

impl SearchKey {
    fn of(query: &SearchQuery) -> SearchKey {
        SearchKey {
            words: query.words.clone().into(),
            after: query.after,
        }
    }
}

/// A search kept: found once, by the first request that asked; those that
/// ask meanwhile wait for it (one query however many ask at once).
struct Entry {
    found: tokio::sync::OnceCell<Arc<Found>>,
    cards: Arc<RenderedCards>,
    created: Instant,
}

impl Entry {
    fn fresh(&self) -> bool {
        self.created.elapsed() < MAX_AGE
    }
}

/// The searches kept, in two generations: new entries go to `hot`; when it
/// is full it becomes `cold` (the old cold one is dropped), and an entry
/// asked for in `cold` moves back to `hot`.
#[derive(Default)]
pub(super) struct Searches {
    hot: HashMap<SearchKey, Arc<Entry>>,
    cold: HashMap<SearchKey, Arc<Entry>>,
}

impl Searches {
    /// A fresh entry in the hot generation, without changing anything.
    fn get_hot(&self, key: &SearchKey) -> Option<Arc<Entry>> {
        self.hot.get(key).filter(|entry| entry.fresh()).cloned()
    }

    /// The fresh entry for `key`, moved to the hot generation, or a new one
    /// whose cards take from `budget`.
    fn entry(&mut self, key: SearchKey, budget: &Arc<CardsBudget>) -> Arc<Entry> {
        if let Some(entry) = self.get_hot(&key) {
            return entry;
        }
        let entry = match self.cold.remove(&key) {
            Some(entry) if entry.fresh() => entry,
            _ => Arc::new(Entry {
                found: tokio::sync::OnceCell::new(),
                cards: Arc::new(RenderedCards::within(budget.clone())),
                created: Instant::now(),
            }),
        };
        self.hot.remove(&key);
        if self.hot.len() >= SEARCHES_CAP / 2 {
            self.cold = std::mem::take(&mut self.hot);
        }
        self.hot.insert(key, entry.clone());
        entry
    }

    pub(super) fn clear(&mut self) {
        self.hot.clear();
        self.cold.clear();
    }

    fn len(&self) -> usize {
        self.hot.len() + self.cold.len()
    }
}

/// How searches were answered since the node started.
#[derive(Default)]
pub(super) struct SearchCounts {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The search cache's figures, for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct SearchCacheStats {
    /// Searches answered from what the node kept (a request that waited for
    /// another's query included).
    pub hits: u64,
    /// Searches that read PostgreSQL.
    pub misses: u64,
    /// Searches kept now.
    pub entries: usize,
    /// Bytes of their rendered cards (at most `CARDS_BUDGET`).
    pub cards_bytes: usize,
}

impl Catalog {
    /// A page of results of `query`: from what this node kept, or read and
    /// kept. While nothing listens for changes, read and not kept.
    pub async fn search(&self, db: &Reads, query: &SearchQuery) -> Result<SearchResults, DbError> {
        if query.words.is_empty() {
            return Ok(SearchResults::default());
        }
        // Read before catching up: a change noted after this makes the page
        // shown now look its products up again (see `RenderedCards`).
        let epoch = self.epoch.load(Ordering::Acquire);
        if !self.catch_up(db).await? {
            let (found, products) = search::search(&mut *db.get().await?, query).await?;
            self.searched.misses.fetch_add(1, Ordering::Relaxed);
            let products = products.into_iter().map(Arc::new).collect();
            return Ok(SearchResults::new(&found, products, Arc::default(), None));
        }
        // Another request may still be applying a change noted before this
        // one (catching up does not wait for it): the product cache may
        // not show it yet, so what is read now is not trusted later.
        let epoch = (self.applied.load(Ordering::Acquire) >= epoch).then_some(epoch);
        let key = SearchKey::of(query);
        let hot = self.read().searches.get_hot(&key);
        let entry = match hot {
            Some(entry) => entry,
            None => self.write().searches.entry(key, &self.cards_budget),
        };
        let mut read: Option<Vec<Arc<Product>>> = None;
        let found = entry
            .found
            .get_or_try_init(|| async {
                let epoch = self.epoch.load(Ordering::Acquire);
                let (found, products) = search::search(&mut *db.get().await?, query).await?;
                let products: Vec<Arc<Product>> = products.into_iter().map(Arc::new).collect();
                self.keep(epoch, |cached| {
                    for product in &products {
                        cached.products.insert(product.clone());
                    }
                });
                read = Some(products);
                Ok::<_, DbError>(Arc::new(found))
            })
            .await?
            .clone();
        let products = match read {
            Some(products) => {
                self.searched.misses.fetch_add(1, Ordering::Relaxed);
                products
            }
            None => {
                self.searched.hits.fetch_add(1, Ordering::Relaxed);
                match epoch.and_then(|epoch| entry.cards.unchanged_since(epoch)) {
                    Some(products) => products,
                    None => self.products_by_id(db, &found.ids).await?,
                }
            }
        };
        Ok(SearchResults::new(
            &found,
            products,
            entry.cards.clone(),
            epoch,
        ))
    }

    /// These products as they are now, in this order: from the product
    /// cache, those it no longer holds read in one query (and kept).
    async fn products_by_id(&self, db: &Reads, ids: &[i64]) -> Result<Vec<Arc<Product>>, DbError> {
        let (mut products, cold) = {
            let cached = self.read();
            let found: Vec<_> = ids.iter().map(|id| cached.products.by_id(*id)).collect();
            let cold: Vec<Arc<Product>> = found
                .iter()
                .flatten()
                .filter(|(_, cold)| *cold)
                .map(|(product, _)| product.clone())
                .collect();
            let products: Vec<Option<Arc<Product>>> =
                found.into_iter().map(|hit| hit.map(|(p, _)| p)).collect();
            (products, cold)
        };
        if !cold.is_empty() {
            let mut cached = self.write();
            for product in cold {
                cached.products.insert(product);
            }
        }
        let missing: Vec<i64> = ids
            .iter()
            .zip(&products)
            .filter(|(_, product)| product.is_none())
            .map(|(id, _)| *id)
            .collect();
        if !missing.is_empty() {
            let epoch = self.epoch.load(Ordering::Acquire);
            let rows = store::active_by_ids(&mut *db.get().await?, &missing).await?;
            let rows: HashMap<i64, Arc<Product>> = rows
                .into_iter()
                .map(|product| (product.id, Arc::new(product)))
                .collect();
            self.keep(epoch, |cached| {
                for product in rows.values() {
                    cached.products.insert(product.clone());
                }
            });
            for (id, product) in ids.iter().zip(products.iter_mut()) {
                if product.is_none() {
                    *product = rows.get(id).cloned();
                }
            }
        }
        // One taken off sale meanwhile is left out (its `search`
        // notification drops this search).
        Ok(products.into_iter().flatten().collect())
    }

    /// How searches were answered, and how many are kept.
    pub(super) fn search_cache_stats(&self) -> SearchCacheStats {
        SearchCacheStats {
            hits: self.searched.hits.load(Ordering::Relaxed),
            misses: self.searched.misses.load(Ordering::Relaxed),
            entries: self.read().searches.len(),
            cards_bytes: self.cards_budget.used(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> SearchKey {
        SearchKey {
            words: vec![format!("word{n}")].into(),
            after: None,
        }
    }

    #[test]
    fn searches_kept_stay_within_their_cap_and_keep_the_recently_used() {
        let budget = Arc::new(CardsBudget::new(0));
        let mut searches = Searches::default();
        let first = searches.entry(key(0), &budget);
        for n in 1..10 * SEARCHES_CAP {
            searches.entry(key(n), &budget);
            // The first search is asked for all the time: it stays.
            assert!(Arc::ptr_eq(&searches.entry(key(0), &budget), &first));
            assert!(searches.len() <= SEARCHES_CAP);
        }
        assert!(searches.len() > SEARCHES_CAP / 2);
        assert!(searches.get_hot(&key(1)).is_none());
        assert!(!searches.cold.contains_key(&key(1)), "the least used went");
        searches.clear();
        assert_eq!(searches.len(), 0);
        assert!(!Arc::ptr_eq(&searches.entry(key(0), &budget), &first));
    }
}
