//! An order as merchants see it: the data of `order.paid` and
//! `order.refunded` events.

use serde::Serialize;

use super::domain::{Order, OrderItem};

/// A shop order.
#[derive(Debug, Serialize)]
pub struct OrderObject {
    /// Our order id.
    pub id: i64,
    /// Always `order`.
    pub object: &'static str,
    /// The public order number on receipts, `K7M2-9QXD`.
    pub number: String,
    /// `paid`, `partially_refunded`, `refunded`...
    pub status: &'static str,
    pub currency: String,
    pub amount_total: String,
    pub amount_total_minor: i64,
    pub amount_refunded: String,
    pub amount_refunded_minor: i64,
    /// The email the shopper paid with.
    pub email: Option<String>,
    pub items: Vec<OrderItemObject>,
    pub livemode: bool,
    pub paid_at: Option<String>,
    pub created_at: String,
}

/// A line of an order, at the price it was sold for.
#[derive(Debug, Serialize)]
pub struct OrderItemObject {
    pub product_id: i64,
    pub product_name: String,
    pub quantity: u32,
    pub unit_price: String,
    pub unit_price_minor: i64,
}

impl OrderObject {
    pub fn from_order(order: &Order, items: &[OrderItem]) -> Self {
        let currency = order.currency();
        let rfc3339 = |at: chrono::DateTime<chrono::Utc>| {
            at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        OrderObject {
            id: order.id,
            object: "order",
            number: order.display_number(),
            status: order.status.as_str(),
            currency: currency.code().to_ascii_lowercase(),
            amount_total: order.total().decimal(),
            amount_total_minor: order.total().minor(),
            amount_refunded: order.refunded().decimal(),
            amount_refunded_minor: order.refunded().minor(),
            email: order.email.clone(),
            items: items
                .iter()
                .map(|item| {
                    let price = item.unit_price(currency);
                    OrderItemObject {
                        product_id: item.product_id,
                        product_name: item.product_name.clone(),
                        quantity: item.quantity(),
                        unit_price: price.decimal(),
                        unit_price_minor: price.minor(),
                    }
                })
                .collect(),
            livemode: order.livemode,
            paid_at: order.paid_at.map(rfc3339),
            created_at: rfc3339(order.created_at),
        }
    }
}
