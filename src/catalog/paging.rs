//! Keyset pagination: listings and search results come a page at a time,
//! each page continuing from an opaque cursor (the sort key of the product
//! it starts after or before), so that products added or taken off sale
//! between two pages never make a product show twice or not at all.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike};

use super::domain::{Product, Sort, SortKey};

/// Products on a page.
pub const PAGE_SIZE: usize = 24;

/// A place in a listing sorted one way: base64url of the sort's tag, the
/// sort key and the id (17 bytes). A cursor of another sort is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub key: SortKey,
}

impl Cursor {
    pub fn new(sort: Sort, key: SortKey) -> Cursor {
        Cursor { sort, key }
    }

    pub fn encode(&self) -> String {
        let mut bytes = [0u8; 17];
        bytes[0] = self.sort.tag();
        bytes[1..9].copy_from_slice(&self.key.key.to_be_bytes());
        bytes[9..].copy_from_slice(&self.key.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A cursor this shop made for a listing sorted by `sort`, or `None`.
    pub fn parse(raw: &str, sort: Sort) -> Option<Cursor> {
        let bytes = decode::<17>(raw)?;
        let key = i64::from_be_bytes(bytes[1..9].try_into().ok()?);
        let id = i64::from_be_bytes(bytes[9..].try_into().ok()?);
        let key_fits = match sort {
            // Within PostgreSQL's timestamps (and chrono's).
            Sort::Newest => {
                DateTime::from_timestamp_micros(key).is_some_and(|t| (1..=9999).contains(&t.year()))
            }
            Sort::PriceLow | Sort::PriceHigh => key >= 0,
        };
        let plausible = bytes[0] == sort.tag() && id > 0 && key_fits;
        plausible.then_some(Cursor {
            sort,
            key: SortKey { key, id },
        })
    }
}

/// Exactly `N` bytes of unpadded base64url, or `None`.
fn decode<const N: usize>(raw: &str) -> Option<[u8; N]> {
    // N bytes encode to ceil(4N/3) characters; refuse anything longer before decoding.
    if raw.len() != (4 * N).div_ceil(3) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(raw).ok()?.try_into().ok()
}

/// Which page of a listing: the first, or the one after or before a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    First,
    After(Cursor),
    Before(Cursor),
}

/// One page of a sorted listing, with the cursors of its neighbours.
#[derive(Debug)]
pub struct Listing {
    pub sort: Sort,
    pub products: Vec<Arc<Product>>,
    /// Where the next page starts (after this page's last product).
    pub next: Option<Cursor>,
    /// Where the previous page ends (before this page's first product).
    pub prev: Option<Cursor>,
    /// The products' part of the page, rendered once by the first request
    /// that shows this (cached) page: a change makes a new `Listing`.
    pub rendered: OnceLock<Arc<str>>,
}

impl Listing {
    /// A page from rows read in the listing's order (`forward`) or against
    /// it, `PAGE_SIZE + 1` at most: the extra row says there is more that way.
    pub fn from_rows(sort: Sort, position: Position, mut rows: Vec<Product>) -> Listing {
        let more = rows.len() > PAGE_SIZE;
        rows.truncate(PAGE_SIZE);
        let backward = matches!(position, Position::Before(_));
        if backward {
            rows.reverse();
        }
        let products: Vec<Arc<Product>> = rows.into_iter().map(Arc::new).collect();
        let cursor_at =
            |product: Option<&Arc<Product>>| product.map(|p| Cursor::new(sort, p.sort_key(sort)));
        let (next, prev) = match position {
            Position::First => (more.then(|| cursor_at(products.last())).flatten(), None),
            Position::After(from) => (
                more.then(|| cursor_at(products.last())).flatten(),
                // Back to just before this page (before the cursor when it is empty).
                cursor_at(products.first()).or(Some(Cursor::new(sort, from.key))),
            ),
            Position::Before(_) => (
                cursor_at(products.last()),
                more.then(|| cursor_at(products.first())).flatten(),
            ),
        };
        Listing {
            sort,
            products,
            next,
            prev,
            rendered: OnceLock::new(),
        }
    }

    /// This page with the product at `index` replaced by a newer read of it
    /// (in the same place), to be rendered again.
    pub fn with_product(&self, index: usize, product: Arc<Product>) -> Listing {
        let mut products = self.products.clone();
        products[index] = product;
        Listing {
            products,
            rendered: OnceLock::new(),
            ..*self
        }
    }

    /// The cursor after the last product, when this first page is full: a
    /// product added later beyond it belongs to the next page, not this one.
    pub fn last_key(&self) -> Option<SortKey> {
        self.products.last().map(|p| p.sort_key(self.sort))
    }

    pub fn is_full(&self) -> bool {
        self.next.is_some()
    }
}

/// A place in search results: the relevance tier (2 for a match in the
/// name, 1 elsewhere) and the id, newest first within a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCursor {
    pub tier: u8,
    pub id: i64,
}

impl SearchCursor {
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; 9];
        bytes[0] = self.tier;
        bytes[1..].copy_from_slice(&self.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn parse(raw: &str) -> Option<SearchCursor> {
        let bytes = decode::<9>(raw)?;
        let id = i64::from_be_bytes(bytes[1..].try_into().ok()?);
        ((1..=2).contains(&bytes[0]) && id > 0).then_some(SearchCursor { tier: bytes[0], id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for sort in Sort::ALL {
            let cursor = Cursor::new(sort, SortKey { key: 1234, id: 42 });
            assert_eq!(Cursor::parse(&cursor.encode(), sort), Some(cursor));
            for other in Sort::ALL.into_iter().filter(|s| *s != sort) {
                assert_eq!(Cursor::parse(&cursor.encode(), other), None);
            }
        }
        let newest = Cursor::new(Sort::Newest, SortKey { key: -5, id: 1 });
        assert_eq!(Cursor::parse(&newest.encode(), Sort::Newest), Some(newest));
        let far = Cursor::new(
            Sort::Newest,
            SortKey {
                key: i64::MAX,
                id: 1,
            },
        );
        assert_eq!(Cursor::parse(&far.encode(), Sort::Newest), None);
        let valid = Cursor::new(Sort::PriceLow, SortKey { key: 1, id: 1 }).encode();
        for bad in [
            "",
            "abc",
            "!!!!!!!!!!!!!!!!!!!!!!!",
            &format!("{valid}A"),
            &valid[1..],
            &"A".repeat(10_000),
            &Cursor::new(Sort::PriceLow, SortKey { key: 1, id: 0 }).encode(),
            &Cursor::new(Sort::PriceLow, SortKey { key: -1, id: 3 }).encode(),
        ] {
            assert_eq!(Cursor::parse(bad, Sort::PriceLow), None, "{bad:?}");
        }
        let search = SearchCursor { tier: 2, id: 7 };
        assert_eq!(SearchCursor::parse(&search.encode()), Some(search));
        for bad in [
            "",
            &SearchCursor { tier: 3, id: 7 }.encode(),
            &SearchCursor { tier: 1, id: -7 }.encode(),
            &valid,
        ] {
            assert_eq!(SearchCursor::parse(bad), None, "{bad:?}");
        }
    }
}
