//! Search: the shopper's words, each with the close words of product names
//! when it is in none (a typo), looked for with PostgreSQL's full-text
//! search, matches in the name before matches in the description, newest
//! first within each, a page at a time, in one round trip
//! (`sql/search.sql`). Each node keeps what a search found (`cache`).

use std::sync::Arc;

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
}

impl SearchResults {
    pub fn new(found: &Found, products: Vec<Arc<Product>>) -> SearchResults {
        SearchResults {
            products,
            next: found.next,
            corrections: found.corrections.clone(),
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
