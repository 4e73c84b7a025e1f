//! Products and collections as shoppers see them: price, stock, what can be
//! ordered, how listings are sorted, and what a catalog notification names.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{collections, products};
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct Product {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub(crate) price_minor: i64,
    pub(crate) currency: Currency,
    pub image_path: String,
    /// `None`: unlimited.
    pub stock: Option<i32>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// Physical goods; digital or made-to-order ones need no address.
    pub requires_shipping: bool,
}

#[cfg(test)]
impl Product {
    /// A product for unit tests: `product-{id}`, 1.00 USD, on sale.
    pub fn sample(id: i64, stock: Option<i32>) -> Product {
        Product {
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
        }
    }
}

/// How many more units can be sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Unlimited,
    InStock(u32),
    LowStock(u32),
    SoldOut,
}

/// At or below this many units the stock counts as low.
const LOW_STOCK: u32 = 5;

impl Product {
    pub fn price(&self) -> Money {
        // The table's CHECK keeps prices non-negative.
        Money::new(self.price_minor, self.currency).unwrap_or_else(|_| Money::zero(self.currency))
    }

    pub fn availability(&self) -> Availability {
        match self.stock.map(|s| u32::try_from(s).unwrap_or(0)) {
            None => Availability::Unlimited,
            Some(0) => Availability::SoldOut,
            Some(n) if n <= LOW_STOCK => Availability::LowStock(n),
            Some(n) => Availability::InStock(n),
        }
    }

    pub fn sold_out(&self) -> bool {
        self.availability() == Availability::SoldOut
    }

    /// Quantity choices on the product page: up to 10, and never more than the stock.
    pub fn max_orderable(&self) -> u32 {
        match self.availability() {
            Availability::Unlimited | Availability::InStock(_) => 10,
            Availability::LowStock(n) => n.min(10),
            Availability::SoldOut => 0,
        }
    }

    pub fn image_url(&self) -> String {
        image_url(&self.image_path)
    }

    pub fn path(&self) -> String {
        format!("/products/{}", self.slug)
    }

    /// Where the product sits in a listing sorted by `sort`.
    pub fn sort_key(&self, sort: Sort) -> SortKey {
        let key = match sort {
            Sort::Newest => self.created_at.timestamp_micros(),
            Sort::PriceLow | Sort::PriceHigh => self.price_minor,
        };
        SortKey { key, id: self.id }
    }

    /// Whether `other` (a newer read of this product) sits where this one
    /// does in every listing: same sort keys, still on sale.
    pub fn same_place(&self, other: &Product) -> bool {
        other.active && self.created_at == other.created_at && self.price_minor == other.price_minor
    }
}

/// Where a product image is served: uploads (`uploads/<name>`, see
/// `media`) from `/uploads`, the sample catalog's from `/static`.
pub fn image_url(image_path: &str) -> String {
    if image_path.starts_with("uploads/") {
        format!("/{image_path}")
    } else {
        format!("/static/{image_path}")
    }
}

/// A group of products with a page of its own; a product may be in several.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = collections, check_for_backend(diesel::pg::Pg))]
pub struct Collection {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
}

impl Collection {
    pub fn path(&self) -> String {
        format!("/collections/{}", self.slug)
    }
}

/// Which products a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    Collection(i64),
}

/// The orders a listing can be in; the id breaks ties, so the order is total
/// and stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sort {
    #[default]
    Newest,
    PriceLow,
    PriceHigh,
}

impl Sort {
    pub const ALL: [Sort; 3] = [Sort::Newest, Sort::PriceLow, Sort::PriceHigh];

    /// From the `sort` query parameter.
    pub fn parse(raw: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|sort| sort.param() == raw)
    }

    pub fn param(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::PriceLow => "price-asc",
            Sort::PriceHigh => "price-desc",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Newest => "Newest",
            Sort::PriceLow => "Price: low to high",
            Sort::PriceHigh => "Price: high to low",
        }
    }

    /// Larger keys first.
    pub fn descending(self) -> bool {
        matches!(self, Sort::Newest | Sort::PriceHigh)
    }

    pub(crate) fn tag(self) -> u8 {
        match self {
            Sort::Newest => b'n',
            Sort::PriceLow => b'p',
            Sort::PriceHigh => b'q',
        }
    }
}

/// A product's place in a sorted listing: the sort column's value (creation
/// time in microseconds, or price in minor units), then the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    pub key: i64,
    pub id: i64,
}

impl SortKey {
    /// Whether `self` comes before `other` in a listing sorted by `sort`.
    pub fn precedes(self, other: SortKey, sort: Sort) -> bool {
        if sort.descending() {
            self > other
        } else {
            self < other
        }
    }
}

/// What a `catalog_changed` notification says changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogChange {
    /// One product (its row, or its collections).
    Product(i64),
    /// What search looks at: a product's name, description, active flag
    /// or age, or a product added or deleted (sent besides its id).
    Search,
    /// Collections themselves (a name, a new one).
    Collections,
    /// Anything: a TRUNCATE, or a payload we do not know.
    Everything,
}

impl CatalogChange {
    /// Reads the payload the trigger (migrations `catalog_collections_search`
    /// and `search_names_index_and_changes`) sends.
    pub fn parse(payload: &str) -> CatalogChange {
        match payload {
            "collections" => CatalogChange::Collections,
            "search" => CatalogChange::Search,
            id => id
                .parse()
                .map_or(CatalogChange::Everything, CatalogChange::Product),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_name_what_changed() {
        assert_eq!(CatalogChange::parse("42"), CatalogChange::Product(42));
        assert_eq!(
            CatalogChange::parse("collections"),
            CatalogChange::Collections
        );
        assert_eq!(CatalogChange::parse("search"), CatalogChange::Search);
        for other in ["", "x", "-", "1 2"] {
            assert_eq!(CatalogChange::parse(other), CatalogChange::Everything);
        }
    }

    #[test]
    fn sort_keys_order_as_their_listing() {
        let (low, high) = (SortKey { key: 1, id: 9 }, SortKey { key: 2, id: 1 });
        assert!(low.precedes(high, Sort::PriceLow));
        assert!(high.precedes(low, Sort::PriceHigh));
        assert!(high.precedes(low, Sort::Newest));
        let tie = SortKey { key: 1, id: 10 };
        assert!(low.precedes(tie, Sort::PriceLow));
        assert!(tie.precedes(low, Sort::Newest));
        for sort in Sort::ALL {
            assert_eq!(Sort::parse(sort.param()), Some(sort));
        }
        assert_eq!(Sort::parse("price"), None);
    }
}
