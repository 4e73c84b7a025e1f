//! Orders as the back office sees them: the list's filters, a row of the
//! list, refunds (their statuses and what is left to refund), shipments,
//! and the timeline of an order.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};

use crate::ids::OrderNumber;
use crate::ledger::domain::RefundStatus;
use crate::money::{Currency, Money};
use crate::orders::domain::OrderStatus;

/// Which orders a list (or its export) shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// Created on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Created on or before this day (UTC).
    pub to: Option<NaiveDate>,
    /// An email (or part of one), or an order number.
    pub search: Option<String>,
    pub fulfilment: Option<Fulfilment>,
}

/// Shipped or not (of the orders that can be: paid, not fully refunded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fulfilment {
    Unshipped,
    Shipped,
}

impl Fulfilment {
    pub fn parse(raw: &str) -> Option<Fulfilment> {
        match raw {
            "unshipped" => Some(Fulfilment::Unshipped),
            "shipped" => Some(Fulfilment::Shipped),
            _ => None,
        }
    }
}

impl OrderFilter {
    /// The order number the search is, if it is one.
    pub fn number(&self) -> Option<OrderNumber> {
        self.search.as_deref().and_then(OrderNumber::parse)
    }
}

/// Statuses in the order they are offered in the list's filter.
pub const STATUSES: [OrderStatus; 7] = [
    OrderStatus::Pending,
    OrderStatus::Paid,
    OrderStatus::PartiallyRefunded,
    OrderStatus::Refunded,
    OrderStatus::Expired,
    OrderStatus::Cancelled,
    OrderStatus::Failed,
];

/// What asking to mark an order shipped did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipOutcome {
    Shipped,
    /// It was shipped already: nothing changed.
    AlreadyShipped,
    /// Unpaid or fully refunded: nothing changed.
    NotShippable,
}

/// A row of the order list (and of its export).
#[derive(Debug, Clone, QueryableByName)]
pub struct OrderRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub status: OrderStatus,
    #[diesel(sql_type = Text)]
    pub currency: Currency,
    /// What was charged (shipping and tax included) once Stripe reported
    /// it, the items' total before.
    #[diesel(sql_type = BigInt)]
    pub total_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub amount_refunded_minor: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub paid_at: Option<DateTime<Utc>>,
    /// When the shopper completed Stripe's page (a payment may still be
    /// settling).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub completed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    pub livemode: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub stripe_payment_intent_id: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub shipped_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub carrier: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub tracking_url: Option<String>,
}

impl OrderRow {
    pub fn display_number(&self) -> String {
        OrderNumber::display(&self.number)
    }

    pub fn total(&self) -> Money {
        money(self.total_minor, self.currency)
    }

    /// Completed on Stripe's page, its payment still settling.
    pub fn payment_processing(&self) -> bool {
        self.status.payment_processing(self.completed_at.is_some())
    }

    pub fn refunded(&self) -> Money {
        money(self.amount_refunded_minor, self.currency)
    }
}

fn money(minor: i64, currency: Currency) -> Money {
    Money::new(minor, currency).unwrap_or_else(|_| Money::zero(currency))
}

/// A currency's totals over a filtered list.
#[derive(Debug, Clone, QueryableByName)]
pub struct CurrencyTotals {
    #[diesel(sql_type = Text)]
    pub currency: Currency,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_orders: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub refunded_minor: i64,
}

impl CurrencyTotals {
    pub fn paid(&self) -> Money {
        money(self.paid_minor, self.currency)
    }

    pub fn refunded(&self) -> Money {
        money(self.refunded_minor, self.currency)
    }

    pub fn net(&self) -> Money {
        money(self.paid_minor - self.refunded_minor, self.currency)
    }
}

/// Stripe's reasons for a refund.
pub const REFUND_REASONS: [(&str, &str); 3] = [
    ("requested_by_customer", "Requested by the customer"),
    ("duplicate", "Duplicate payment"),
    ("fraudulent", "Fraudulent payment"),
];

/// A refund as the order page lists it.
#[derive(Debug, Clone)]
pub struct RefundLine {
    pub id: i64,
    pub amount: Money,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub status: RefundStatus,
    pub stripe_refund_id: Option<String>,
    pub failure_reason: Option<String>,
    /// Who asked: a staff member's email, the payments API, or Stripe's
    /// dashboard.
    pub asked_by: String,
    pub created_at: DateTime<Utc>,
    /// Items it returns to stock: (name, quantity).
    pub restock: Vec<(String, i32)>,
    pub restocked: bool,
}

impl RefundLine {
    pub fn reason_label(&self) -> Option<&'static str> {
        let reason = self.reason.as_deref()?;
        REFUND_REASONS
            .iter()
            .find(|(code, _)| *code == reason)
            .map(|(_, label)| *label)
    }
}

/// An item of an order, for the refund form's "return to stock".
#[derive(Debug, Clone)]
pub struct ItemLine {
    pub id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub unit_price: Money,
    pub quantity: i32,
    pub restocked: i32,
}

impl ItemLine {
    pub fn line_total(&self) -> Money {
        self.unit_price
            .checked_mul(u32::try_from(self.quantity).unwrap_or(0))
            .unwrap_or_else(|_| Money::zero(self.unit_price.currency()))
    }

    /// Units that may still go back to stock.
    pub fn returnable(&self) -> i32 {
        self.quantity - self.restocked
    }
}

/// A shipment of an order.
#[derive(Debug, Clone)]
pub struct Shipment {
    pub carrier: Option<String>,
    pub tracking_url: Option<String>,
    pub shipped_at: DateTime<Utc>,
}

/// A tracking link: http(s) only, with a host, at most 2000 characters.
pub fn parse_tracking_url(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let url = reqwest::Url::parse(raw).map_err(|_| {
        "Enter the tracking link as a full address, like https://carrier.example/track/123."
            .to_owned()
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("Tracking links start with https:// (or http://).".into());
    }
    if raw.len() > 2000 {
        return Err("Tracking links have at most 2000 characters.".into());
    }
    Ok(Some(url.to_string()))
}

/// A carrier's name: at most 100 characters.
pub fn parse_carrier(raw: &str) -> Result<Option<String>, String> {
    match raw.trim() {
        "" => Ok(None),
        name if name.chars().count() > 100 => {
            Err("Carrier names have at most 100 characters.".into())
        }
        name => Ok(Some(name.to_owned())),
    }
}

/// One thing that happened to an order, for its timeline.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub what: String,
    /// Who or what did it: a staff member, a webhook, the shopper's checkout.
    pub by: String,
}

/// How a recorded event source reads: `webhook:charge.refunded` → "Stripe
/// (charge.refunded)".
pub fn source_label(source: &str, staff_email: Option<&str>) -> String {
    if let Some(email) = staff_email {
        return email.to_owned();
    }
    match source.split_once(':') {
        Some(("webhook", event)) => format!("Stripe ({event})"),
        _ => match source {
            "checkout" => "Shopper's checkout".into(),
            "checkout_failed" => "Checkout (Stripe refused)".into(),
            "success_page" => "Shopper's return from Stripe".into(),
            "cancel_page" => "Shopper left Stripe's page".into(),
            "reconciler" => "Reconciler (asked Stripe)".into(),
            other => other.replace('_', " "),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_links_are_http_only() {
        assert_eq!(
            parse_tracking_url(" https://track.example/123 ")
                .unwrap()
                .as_deref(),
            Some("https://track.example/123")
        );
        assert_eq!(parse_tracking_url("").unwrap(), None);
        for bad in [
            "javascript:alert(1)",
            "ftp://x.example/1",
            "track.example/123",
            "https://",
            "data:text/html,hi",
        ] {
            assert!(parse_tracking_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refund_statuses_move_forward() {
        assert!(RefundStatus::Requested.rank() < RefundStatus::Pending.rank());
        assert!(RefundStatus::Pending.rank() < RefundStatus::Failed.rank());
        assert!(RefundStatus::Succeeded.rank() < RefundStatus::Failed.rank());
        assert!(!RefundStatus::Failed.holds_money());
        assert!(RefundStatus::Requested.holds_money());
        assert_eq!(
            RefundStatus::parse("requires_action"),
            Some(RefundStatus::RequiresAction)
        );
    }
}
