//! Products as shoppers see them: price, stock and what can be ordered.

use diesel::prelude::*;

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
    currency: Currency,
    pub image_path: String,
    /// `None`: unlimited.
    pub stock: Option<i32>,
    pub active: bool,
    /// Physical goods; digital or made-to-order ones need no address.
    pub requires_shipping: bool,
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
        format!("/static/{}", self.image_path)
    }
}
