//! Search: the shopper's words, each with the close words of product names
//! when it is in none (a typo), looked for with PostgreSQL's full-text
//! search, matches in the name before matches in the description, newest
//! first within each, a page at a time, in one round trip
//! (`sql/search.sql`). Each node keeps what a search found (`cache`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use super::domain::Product;
use super::paging::{PAGE_SIZE, SearchCursor};
use super::query::SearchQuery;
use super::store;

/// Relevance tiers, best first.
const IN_NAME: u8 = 2;
const ANYWHERE: u8 = 1;

/// What a search found for a page: what each node keeps, without the
/// products themselves (their stock and price change; which products
/// match, and in what order, does not).
#[derive(Debug, Default)]
pub struct Found {
    /// The page's products, in order.
    pub ids: Vec<i64>,
    /// Where the next page starts, if there is one.
    pub next: Option<SearchCursor>,
    /// Words of product names looked for in place of words found in none.
    pub corrections: Vec<String>,
}

/// A page of results, as shown.
#[derive(Debug, Default)]
pub struct SearchResults {
    pub products: Vec<Arc<Product>>,
    pub next: Option<SearchCursor>,
    pub corrections: Vec<String>,
    /// The page's cards as its kept search last rendered them.
    pub cards: Arc<RenderedCards>,
    /// The catalog's changes up to this one were all applied to the product
    /// cache when the products were read from it; `None` while a refresh
    /// was still applying one (the page is shown, but not trusted later).
    pub epoch: Option<u64>,
}

impl SearchResults {
    pub fn new(
        found: &Found,
        products: Vec<Arc<Product>>,
        cards: Arc<RenderedCards>,
        epoch: Option<u64>,
    ) -> SearchResults {
        SearchResults {
            products,
            next: found.next,
            corrections: found.corrections.clone(),
            cards,
            epoch,
        }
    }

    /// The page's cards: as last rendered while they show these products
    /// (the product cache holds a new value for one that changed), so a
    /// popular search costs about what a cached listing does.
    pub fn cards<E>(
        &self,
        render: impl FnOnce(&[Arc<Product>]) -> Result<Arc<str>, E>,
    ) -> Result<Arc<str>, E> {
        self.cards.get_or_render(self.epoch, &self.products, render)
    }
}

/// Bytes of rendered cards that a node's kept searches hold at most: a page
/// of 24 cards is some 12 KB, so about 700 pages. Beyond it a page is
/// rendered per request until kept searches are dropped (at the latest
/// when they expire), which bounds the node's memory whatever is searched.
pub const CARDS_BUDGET: usize = 8 << 20;

/// The bytes of cards kept searches may hold, and hold now.
#[derive(Debug)]
pub struct CardsBudget {
    cap: usize,
    used: AtomicUsize,
}

impl CardsBudget {
    pub fn new(cap: usize) -> CardsBudget {
        CardsBudget {
            cap,
            used: AtomicUsize::new(0),
        }
    }

    /// The bytes of cards held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.cap)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// A kept search's page as last shown: its products, held weakly (what the
/// product cache dropped is not kept alive here, and its memory cannot be
/// reused by another product while this compares against it), its cards
/// while the budget allows, and the catalog's changes applied when they
/// were read. Without a budget (a search not kept) nothing is kept.
#[derive(Debug, Default)]
pub struct RenderedCards {
    shown: Mutex<Option<Shown>>,
    budget: Option<Arc<CardsBudget>>,
}

#[derive(Debug)]
struct Shown {
    /// See `SearchResults::epoch`.
    epoch: Option<u64>,
    products: Vec<Weak<Product>>,
    /// Taken from the budget.
    html: Option<Arc<str>>,
}

impl RenderedCards {
    pub fn within(budget: Arc<CardsBudget>) -> RenderedCards {
        RenderedCards {
            shown: Mutex::default(),
            budget: Some(budget),
        }
    }

    /// The products last shown, if they were read when the changes up to
    /// `epoch` were applied (the caller knows none came since) and each is
    /// still in memory: then they are the products as they are now.
    pub fn unchanged_since(&self, epoch: u64) -> Option<Vec<Arc<Product>>> {
        let shown = self.lock();
        let shown = shown.as_ref().filter(|shown| shown.epoch == Some(epoch))?;
        shown.products.iter().map(Weak::upgrade).collect()
    }

    fn get_or_render<E>(
        &self,
        epoch: Option<u64>,
        products: &[Arc<Product>],
        render: impl FnOnce(&[Arc<Product>]) -> Result<Arc<str>, E>,
    ) -> Result<Arc<str>, E> {
        let Some(budget) = &self.budget else {
            return render(products);
        };
        let same = |shown: &Shown| {
            shown.products.len() == products.len()
                && shown
                    .products
                    .iter()
                    .zip(products)
                    .all(|(was, is)| std::ptr::eq(was.as_ptr(), Arc::as_ptr(is)))
        };
        if let Some(shown) = &mut *self.lock()
            && same(shown)
        {
            shown.epoch = shown.epoch.max(epoch);
            if let Some(html) = &shown.html {
                return Ok(html.clone());
            }
        }
        let html = render(products)?;
        let mut shown = self.lock();
        // The page it replaces gives its bytes back first.
        if let Some(old) = shown.take().and_then(|shown| shown.html) {
            budget.give_back(old.len());
        }
        *shown = Some(Shown {
            epoch,
            products: products.iter().map(Arc::downgrade).collect(),
            html: budget.take(html.len()).then(|| html.clone()),
        });
        Ok(html)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Shown>> {
        self.shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for RenderedCards {
    fn drop(&mut self) {
        let html = self.lock().take().and_then(|shown| shown.html);
        if let (Some(budget), Some(html)) = (&self.budget, html) {
            budget.give_back(html.len());
        }
    }
}

/// A page of the search, and its products as read.
pub async fn search(
    conn: &mut AsyncPgConnection,
    query: &SearchQuery,
) -> QueryResult<(Found, Vec<Product>)> {
    if query.words.is_empty() {
        return Ok((Found::default(), Vec::new()));
    }
    // Names' tier from the start, or after the cursor; 0 when the cursor
    // is past it. The other tier from the start unless the cursor is in it.
    let (named_before, other_before) = match query.after {
        None => (i64::MAX, i64::MAX),
        Some(cursor) if cursor.tier == IN_NAME => (cursor.id, i64::MAX),
        Some(cursor) => (0, cursor.id),
    };
    // One more than a page says whether there is a next page.
    let rows = store::search(
        conn,
        &query.words,
        named_before,
        other_before,
        PAGE_SIZE + 1,
    )
    .await?;
    let corrections = rows
        .first()
        .map(|row| row.corrections.clone())
        .unwrap_or_default();
    let mut found: Vec<(u8, Product)> = rows
        .into_iter()
        .filter_map(|row| {
            let tier = if row.tier? == i16::from(IN_NAME) {
                IN_NAME
            } else {
                ANYWHERE
            };
            Some((tier, row.product?))
        })
        .collect();
    let more = found.len() > PAGE_SIZE;
    found.truncate(PAGE_SIZE);
    let next = found
        .last()
        .filter(|_| more)
        .map(|(tier, product)| SearchCursor {
            tier: *tier,
            id: product.id,
        });
    let ids = found.iter().map(|(_, product)| product.id).collect();
    let products = found.into_iter().map(|(_, product)| product).collect();
    Ok((
        Found {
            ids,
            next,
            corrections,
        },
        products,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: i64, stock: Option<i32>) -> Arc<Product> {
        Arc::new(Product::sample(id, stock))
    }

    fn render(products: &[Arc<Product>]) -> Result<Arc<str>, ()> {
        let stock: Vec<String> = products.iter().map(|p| format!("{:?}", p.stock)).collect();
        Ok(Arc::from(stock.join(",")))
    }

    #[test]
    fn cards_are_rendered_again_only_when_a_product_changed() {
        let cards = RenderedCards::within(Arc::new(CardsBudget::new(1 << 20)));
        let page = vec![product(1, Some(5)), product(2, None)];
        let first = cards.get_or_render(Some(1), &page, render).unwrap();
        let again = cards
            .get_or_render(Some(2), &page, |_| -> Result<Arc<str>, ()> {
                panic!("the same products are not rendered again")
            })
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // Shown unchanged at 2: the same products while nothing changes.
        let kept = cards.unchanged_since(2).unwrap();
        assert!(kept.iter().zip(&page).all(|(a, b)| Arc::ptr_eq(a, b)));
        assert!(
            cards.unchanged_since(3).is_none(),
            "a change since: look again"
        );
        // The product cache holds a new value for a product whose stock changed.
        let changed = vec![page[0].clone(), product(2, Some(0))];
        assert_eq!(
            &*cards.get_or_render(Some(3), &changed, render).unwrap(),
            "Some(5),Some(0)"
        );
        // One fewer (taken off sale): rendered again.
        assert_eq!(
            &*cards.get_or_render(Some(4), &changed[..1], render).unwrap(),
            "Some(5)"
        );
        assert_eq!(cards.unchanged_since(4).map(|p| p.len()), Some(1));
        // Read while a refresh was applying a change: shown, never trusted.
        let during = vec![product(3, None)];
        cards.get_or_render(None, &during, render).unwrap();
        assert!(cards.unchanged_since(4).is_none());
        assert!(cards.unchanged_since(5).is_none());
        cards.get_or_render(Some(5), &during, render).unwrap();
        assert_eq!(cards.unchanged_since(5).map(|p| p.len()), Some(1));
        // A product the product cache dropped is not kept alive here.
        drop((changed, page, kept, during));
        assert!(cards.unchanged_since(5).is_none());
    }

    #[test]
    fn cards_beyond_the_budget_are_rendered_per_request_and_dropped_cards_give_it_back() {
        // Room for one page of two cards ("None,None": 9 bytes).
        let budget = Arc::new(CardsBudget::new(12));
        let page = vec![product(1, None), product(2, None)];
        let first = RenderedCards::within(budget.clone());
        let second = RenderedCards::within(budget.clone());
        first.get_or_render(Some(1), &page, render).unwrap();
        assert_eq!(budget.used(), 9);
        let mut renders = 0;
        for _ in 0..3 {
            let html = second
                .get_or_render(Some(1), &page, |products| {
                    renders += 1;
                    render(products)
                })
                .unwrap();
            assert_eq!(&*html, "None,None");
        }
        assert_eq!(renders, 3, "not kept: no room");
        assert_eq!(budget.used(), 9);
        // Still shown unchanged: its products need no lookup.
        assert_eq!(second.unchanged_since(1).map(|p| p.len()), Some(2));

        // A new page replaces the kept one's bytes; a dropped search frees them.
        first.get_or_render(Some(2), &page[..1], render).unwrap();
        assert_eq!(budget.used(), 4);
        drop(first);
        assert_eq!(budget.used(), 0);
        second.get_or_render(Some(2), &page, render).unwrap();
        assert_eq!(budget.used(), 9);
        drop(second);
        assert_eq!(budget.used(), 0);

        // A search not kept keeps nothing.
        let unkept = RenderedCards::default();
        unkept.get_or_render(Some(1), &page, render).unwrap();
        assert!(unkept.lock().is_none());
    }
}
