//! The payments ledger's types: accounts (ours, mapped to Stripe customers)
//! and their payments, browser checkouts and off-session debits alike.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{accounts, payments};
use crate::money::{Currency, Money};
use crate::orders::domain::StripeTotals;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Account {
    pub id: String,
    pub stripe_customer_id: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// An asynchronous debit waiting for its turn: not sent to Stripe yet.
    Queued,
    /// Stripe is being asked (or the answer was lost: a retry settles it).
    Processing,
    Succeeded,
    Failed,
    /// The card needs the cardholder (3D Secure): ask them to pay on-session.
    RequiresAction,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Queued => "queued",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::RequiresAction => "requires_action",
        }
    }

    /// After Stripe declined a debit with this error code: the cardholder
    /// must authenticate, or it failed.
    pub fn after_decline(code: Option<&str>) -> PaymentStatus {
        if code == Some("authentication_required") {
            PaymentStatus::RequiresAction
        } else {
            PaymentStatus::Failed
        }
    }
}

impl PaymentStatus {
    pub fn parse(status: &str) -> Result<PaymentStatus, String> {
        Ok(match status {
            "queued" => PaymentStatus::Queued,
            "processing" => PaymentStatus::Processing,
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "requires_action" => PaymentStatus::RequiresAction,
            _ => return Err(format!("unknown payment status {status:?}")),
        })
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub struct Payment {
    pub id: String,
    pub account_id: String,
    pub order_id: Option<i64>,
    pub stripe_payment_intent_id: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub stripe_payment_method_id: Option<String>,
    pub amount_minor: i64,
    pub amount_refunded_minor: i64,
    pub currency: Currency,
    pub status: PaymentStatus,
    pub failure_code: Option<String>,
    pub decline_code: Option<String>,
    pub failure_message: Option<String>,
    pub description: Option<String>,
    pub metadata: serde_json::Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    /// Taken through Stripe's live mode: real money.
    pub livemode: bool,
    #[diesel(embed)]
    pub(super) lines: PaymentLines,
}

/// A checkout payment's lines as Stripe computed them: all or none.
#[derive(Debug, Clone, Copy, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub struct PaymentLines {
    amount_subtotal_minor: Option<i64>,
    amount_discount_minor: Option<i64>,
    amount_shipping_minor: Option<i64>,
    amount_tax_minor: Option<i64>,
}

impl Payment {
    pub fn money(&self) -> Money {
        // The table's CHECKs keep amounts non-negative.
        Money::new(self.amount_minor, self.currency).unwrap_or_else(|_| Money::zero(self.currency))
    }

    /// What a checkout payment charged for: its items, discount, shipping
    /// and tax (none for debits, and for payments recorded before them).
    pub fn lines(&self) -> Option<StripeTotals> {
        let l = self.lines;
        let minor = [
            l.amount_subtotal_minor?,
            l.amount_discount_minor?,
            l.amount_shipping_minor?,
            l.amount_tax_minor?,
            self.amount_minor,
        ];
        StripeTotals::new(self.currency, minor).ok()
    }

    /// What Stripe has refunded of it.
    pub fn refunded(&self) -> Money {
        Money::new(self.amount_refunded_minor, self.currency)
            .unwrap_or_else(|_| Money::zero(self.currency))
    }
}

/// How a debit ended at Stripe.
pub struct Outcome<'a> {
    pub status: PaymentStatus,
    pub payment_intent_id: Option<&'a str>,
    pub failure_code: Option<&'a str>,
    pub decline_code: Option<&'a str>,
    pub failure_message: Option<&'a str>,
}
