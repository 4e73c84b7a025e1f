//! Search: the shopper's words, each with the close words of product names
//! when it is in none (a typo), looked for with PostgreSQL's full-text
//! search, matches in the name before matches in the description, newest
//! first within each, a page at a time. Not cached: every search reads the
//! database, through indexes (see `store::search`).

use std::sync::Arc;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use super::domain::Product;
use super::paging::{PAGE_SIZE, SearchCursor};
use super::query::{SearchQuery, tsquery};
use super::store;

/// Relevance tiers, best first.
const IN_NAME: u8 = 2;
const ANYWHERE: u8 = 1;

#[derive(Debug, Default)]
pub struct SearchResults {
    pub products: Vec<Arc<Product>>,
    /// Where the next page starts, if there is one.
    pub next: Option<SearchCursor>,
    /// Words of product names looked for in place of words found in none.
    pub corrections: Vec<String>,
}

pub async fn search(
    conn: &mut AsyncPgConnection,
    query: &SearchQuery,
) -> QueryResult<SearchResults> {
    if query.words.is_empty() {
        return Ok(SearchResults::default());
    }
    let words = store::spell(conn, &query.words).await?;
    let corrections = words
        .iter()
        .flat_map(|term| term.alternatives.iter().cloned())
        .collect();
    let in_name = tsquery(&words, true);
    let anywhere = tsquery(&words, false);
    let start = query.after;
    // One more than a page says whether there is a next page.
    let wanted = PAGE_SIZE + 1;
    let mut found: Vec<(u8, Product)> = Vec::new();
    if start.is_none_or(|cursor| cursor.tier == IN_NAME) {
        let before = start.map(|cursor| cursor.id);
        let rows = store::search(conn, &in_name, None, before, wanted).await?;
        found.extend(rows.into_iter().map(|product| (IN_NAME, product)));
    }
    if found.len() < wanted {
        let before = start
            .filter(|cursor| cursor.tier == ANYWHERE)
            .map(|cursor| cursor.id);
        let rows = store::search(
            conn,
            &anywhere,
            Some(&in_name),
            before,
            wanted - found.len(),
        )
        .await?;
        found.extend(rows.into_iter().map(|product| (ANYWHERE, product)));
    }
    let more = found.len() > PAGE_SIZE;
    found.truncate(PAGE_SIZE);
    let next = found
        .last()
        .filter(|_| more)
        .map(|(tier, product)| SearchCursor {
            tier: *tier,
            id: product.id,
        });
    Ok(SearchResults {
        products: found
            .into_iter()
            .map(|(_, product)| Arc::new(product))
            .collect(),
        next,
        corrections,
    })
}
