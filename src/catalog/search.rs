//! Search: the shopper's words, each with the close words of product names
//! when it is in none (a typo), looked for with PostgreSQL's full-text
//! search, matches in the name before matches in the description, newest
//! first within each, a page at a time, in one round trip
//! (`sql/search.sql`). Each node keeps what a search found (`cache`).

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
}

impl SearchResults {
    pub fn new(
        found: &Found,
        products: Vec<Arc<Product>>,
        cards: Arc<RenderedCards>,
    ) -> SearchResults {
        SearchResults {
            products,
            next: found.next,
            corrections: found.corrections.clone(),
            cards,
        }
    }
}

/// A page's cards as last rendered, with the products they showed: a kept
/// search's page is rendered again only when one of its products changed
/// (the product cache then holds a new value), so a popular search costs
/// about what a cached listing does. The products are held weakly: what
/// the product cache dropped is not kept alive here, and its memory cannot
/// be reused by another product while this compares against it.
#[derive(Debug, Default)]
pub struct RenderedCards(Mutex<Option<Rendered>>);

/// Cards rendered, and the products they show.
type Rendered = (Vec<Weak<Product>>, Arc<str>);

impl RenderedCards {
    pub fn get_or_render<E>(
        &self,
        products: &[Arc<Product>],
        render: impl FnOnce(&[Arc<Product>]) -> Result<Arc<str>, E>,
    ) -> Result<Arc<str>, E> {
        let shows = |shown: &[Weak<Product>]| {
            shown.len() == products.len()
                && shown
                    .iter()
                    .zip(products)
                    .all(|(was, is)| std::ptr::eq(was.as_ptr(), Arc::as_ptr(is)))
        };
        if let Some((shown, html)) = &*self.lock()
            && shows(shown)
        {
            return Ok(html.clone());
        }
        let html = render(products)?;
        let shown = products.iter().map(Arc::downgrade).collect();
        *self.lock() = Some((shown, html.clone()));
        Ok(html)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Rendered>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        Arc::new(Product {
            id,
            slug: format!("product-{id}"),
            name: format!("Product {id}"),
            description: String::new(),
            price_minor: 100,
            currency: crate::money::Currency::Usd,
            image_path: String::new(),
            stock,
            active: true,
            created_at: chrono::Utc::now(),
            requires_shipping: true,
        })
    }

    fn render(products: &[Arc<Product>]) -> Result<Arc<str>, ()> {
        let stock: Vec<String> = products.iter().map(|p| format!("{:?}", p.stock)).collect();
        Ok(Arc::from(stock.join(",")))
    }

    #[test]
    fn cards_are_rendered_again_only_when_a_product_changed() {
        let cards = RenderedCards::default();
        let page = vec![product(1, Some(5)), product(2, None)];
        let first = cards.get_or_render(&page, render).unwrap();
        let again = cards
            .get_or_render(&page, |_| -> Result<Arc<str>, ()> {
                panic!("the same products are not rendered again")
            })
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // The product cache holds a new value for a product whose stock changed.
        let changed = vec![page[0].clone(), product(2, Some(0))];
        assert_eq!(
            &*cards.get_or_render(&changed, render).unwrap(),
            "Some(5),Some(0)"
        );
        // One fewer (taken off sale): rendered again.
        assert_eq!(
            &*cards.get_or_render(&changed[..1], render).unwrap(),
            "Some(5)"
        );
    }
}
