//! Orders: what was bought at which price, where its payment stands, and
//! what moved it there.

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{order_items, orders};
use crate::ids::OrderNumber;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Expired,
    Cancelled,
    Failed,
    Refunded,
    PartiallyRefunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    /// Closed without payment: its stock was released and may be sold.
    pub fn is_closed_unpaid(self) -> bool {
        matches!(
            self,
            OrderStatus::Expired | OrderStatus::Cancelled | OrderStatus::Failed
        )
    }
}

impl OrderStatus {
    pub fn parse(value: &str) -> Result<OrderStatus, String> {
        Ok(match value {
            "pending" => OrderStatus::Pending,
            "paid" => OrderStatus::Paid,
            "expired" => OrderStatus::Expired,
            "cancelled" => OrderStatus::Cancelled,
            "failed" => OrderStatus::Failed,
            "refunded" => OrderStatus::Refunded,
            "partially_refunded" => OrderStatus::PartiallyRefunded,
            _ => return Err(format!("unknown order status {value:?}")),
        })
    }
}

/// What moved an order from one status to another: recorded with every
/// transition (`order_events.source`) and counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The shopper's checkout created it.
    Checkout,
    /// Stripe refused or failed to start its payment.
    CheckoutFailed,
    /// Stripe's return page.
    SuccessPage,
    /// The shopper left Stripe's page with its back link.
    CancelPage,
    /// The same browser started a newer checkout.
    Superseded,
    /// The reconciler asked Stripe about it.
    Reconciler,
    /// A Stripe webhook event of this type.
    Webhook(&'static str),
}

impl Source {
    /// The kind of source, for metrics labels: `webhook` for every event type.
    pub fn kind(self) -> &'static str {
        match self {
            Source::Checkout => "checkout",
            Source::CheckoutFailed => "checkout_failed",
            Source::SuccessPage => "success_page",
            Source::CancelPage => "cancel_page",
            Source::Superseded => "superseded",
            Source::Reconciler => "reconciler",
            Source::Webhook(_) => "webhook",
        }
    }
}

impl fmt::Display for Source {
    /// As recorded: `webhook:checkout.session.completed` for events.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Webhook(event) => write!(f, "webhook:{event}"),
            other => f.write_str(other.kind()),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct Order {
    pub id: i64,
    pub token: String,
    pub browser_id: Uuid,
    pub cart_id: Option<Uuid>,
    pub status: OrderStatus,
    pub(super) currency: Currency,
    pub(super) amount_total_minor: i64,
    pub(super) amount_refunded_minor: i64,
    pub email: Option<String>,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub checkout_url: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The public order number, without its dash (`ids::OrderNumber`).
    pub number: String,
    /// Paid (or to be paid) through Stripe's live mode: real money.
    pub livemode: bool,
    /// The shopper ticked "Save my card for next time".
    pub save_card: bool,
}

impl Order {
    /// The public order number as people read it: `K7M2-9QXD`.
    pub fn display_number(&self) -> String {
        OrderNumber::display(&self.number)
    }

    pub fn total(&self) -> Money {
        Money::new(self.amount_total_minor, self.currency)
            .unwrap_or_else(|_| Money::zero(self.currency))
    }

    pub fn refunded(&self) -> Money {
        Money::new(self.amount_refunded_minor, self.currency)
            .unwrap_or_else(|_| Money::zero(self.currency))
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_paid(&self) -> bool {
        self.paid_at.is_some()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_items, check_for_backend(diesel::pg::Pg))]
pub struct OrderItem {
    pub product_id: i64,
    pub product_name: String,
    pub(super) unit_price_minor: i64,
    pub(super) quantity: i32,
}

impl OrderItem {
    pub fn unit_price(&self, currency: Currency) -> Money {
        Money::new(self.unit_price_minor, currency).unwrap_or_else(|_| Money::zero(currency))
    }

    pub fn quantity(&self) -> u32 {
        u32::try_from(self.quantity).unwrap_or(0)
    }

    pub fn line_total(&self, currency: Currency) -> Money {
        self.unit_price(currency)
            .checked_mul(self.quantity())
            .unwrap_or_else(|_| Money::zero(currency))
    }
}

/// What to buy: a product and a quantity. Prices always come from the database.
#[derive(Debug, Clone, Copy)]
pub struct OrderLine {
    pub product_id: i64,
    pub quantity: u32,
}

/// Why an order needs a person (`order_issues.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// Stripe says it was paid, but not the amount or currency we asked for.
    AmountMismatch,
    /// Paid after it had been closed (its stock released and maybe sold).
    PaidAfterClose,
    /// A refund failed at Stripe after it was asked for.
    RefundFailed,
}

impl IssueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::AmountMismatch => "amount_mismatch",
            IssueKind::PaidAfterClose => "paid_after_close",
            IssueKind::RefundFailed => "refund_failed",
        }
    }

    pub fn parse(kind: &str) -> Result<IssueKind, String> {
        Ok(match kind {
            "amount_mismatch" => IssueKind::AmountMismatch,
            "paid_after_close" => IssueKind::PaidAfterClose,
            "refund_failed" => IssueKind::RefundFailed,
            _ => return Err(format!("unknown order issue {kind:?}")),
        })
    }
}
