use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::products;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct Product {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    price_minor: i64,
    #[diesel(deserialize_as = String)]
    currency: Currency,
    pub image_path: String,
    /// `None`: unlimited.
    pub stock: Option<i32>,
    pub active: bool,
}

/// How many more units can be sold, as shown to shoppers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Unlimited,
    InStock(u32),
    LowStock(u32),
    SoldOut,
}

impl Availability {
    /// Badge style in the stylesheet.
    pub fn css_class(&self) -> &'static str {
        match self {
            Availability::Unlimited | Availability::InStock(_) => "in-stock",
            Availability::LowStock(_) => "low-stock",
            Availability::SoldOut => "sold-out",
        }
    }
}

impl std::fmt::Display for Availability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Availability::Unlimited | Availability::InStock(_) => f.write_str("In stock"),
            Availability::LowStock(n) => write!(f, "Only {n} left"),
            Availability::SoldOut => f.write_str("Sold out"),
        }
    }
}

/// At or below this many units the page says "Only N left".
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
        format!("/static/{}", self.image_path)
    }

    pub async fn list_active(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Product>> {
        products::table
            .filter(products::active.eq(true))
            .order_by((products::name, products::id))
            .select(Product::as_select())
            .load(conn)
            .await
    }

    pub async fn find_active(
        conn: &mut AsyncPgConnection,
        slug: &str,
    ) -> QueryResult<Option<Product>> {
        if !plausible_slug(slug) {
            return Ok(None);
        }
        products::table
            .filter(products::slug.eq(slug))
            .filter(products::active.eq(true))
            .select(Product::as_select())
            .first(conn)
            .await
            .optional()
    }
}

/// Whether `slug` could name a product. Anything else (a NUL byte, which
/// PostgreSQL would refuse as text, say) is simply not found, without a query.
pub fn plausible_slug(slug: &str) -> bool {
    (1..=100).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl TryFrom<String> for Currency {
    type Error = crate::money::MoneyError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        code.parse()
    }
}
