//! The payments ledger's types: accounts (ours, mapped to Stripe customers)
//! and their payments, browser checkouts and off-session debits alike.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{accounts, payments, refunds};
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

/// Where a refund stands: ours before Stripe answered, then Stripe's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// Saved; Stripe has not answered yet (asking again is safe).
    Requested,
    /// Stripe said no: nothing was refunded.
    Refused,
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Requested => "requested",
            RefundStatus::Refused => "refused",
            RefundStatus::Pending => "pending",
            RefundStatus::RequiresAction => "requires_action",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
        }
    }

    pub fn parse(raw: &str) -> Option<RefundStatus> {
        [
            RefundStatus::Requested,
            RefundStatus::Refused,
            RefundStatus::Pending,
            RefundStatus::RequiresAction,
            RefundStatus::Succeeded,
            RefundStatus::Failed,
            RefundStatus::Canceled,
        ]
        .into_iter()
        .find(|status| status.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            RefundStatus::Requested => "Waiting for Stripe",
            RefundStatus::Refused => "Refused by Stripe",
            RefundStatus::Pending => "Pending",
            RefundStatus::RequiresAction => "Needs action",
            RefundStatus::Succeeded => "Refunded",
            RefundStatus::Failed => "Failed",
            RefundStatus::Canceled => "Canceled",
        }
    }

    /// The statuses that count against what is left to refund.
    pub fn holding() -> [RefundStatus; 4] {
        [
            RefundStatus::Requested,
            RefundStatus::Pending,
            RefundStatus::RequiresAction,
            RefundStatus::Succeeded,
        ]
    }

    /// Counts against what is left to refund.
    pub fn holds_money(self) -> bool {
        !matches!(
            self,
            RefundStatus::Refused | RefundStatus::Failed | RefundStatus::Canceled
        )
    }

    /// Statuses only move forward: a late answer never undoes a later
    /// event (Stripe does not order them). A card refund that succeeded
    /// may still fail later (a closed card), never the other way round.
    pub fn rank(self) -> u8 {
        match self {
            RefundStatus::Requested => 0,
            RefundStatus::Pending | RefundStatus::RequiresAction => 1,
            RefundStatus::Succeeded => 2,
            RefundStatus::Refused | RefundStatus::Failed | RefundStatus::Canceled => 3,
        }
    }
}

/// What is left to refund of `total`: what Stripe reported refunded, or
/// what refunds in flight hold, whichever is more (so that two staff
/// members cannot both refund the last of it).
pub fn refundable(total: Money, reported_refunded: i64, held_by_refunds: i64) -> Money {
    let taken = reported_refunded.max(held_by_refunds);
    Money::new((total.minor() - taken).max(0), total.currency())
        .unwrap_or(Money::zero(total.currency()))
}

/// Stripe's reasons for a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl RefundReason {
    pub const ALL: [RefundReason; 3] = [
        RefundReason::Duplicate,
        RefundReason::Fraudulent,
        RefundReason::RequestedByCustomer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::Duplicate => "duplicate",
            RefundReason::Fraudulent => "fraudulent",
            RefundReason::RequestedByCustomer => "requested_by_customer",
        }
    }

    pub fn parse(reason: &str) -> Option<RefundReason> {
        RefundReason::ALL.into_iter().find(|r| r.as_str() == reason)
    }
}

/// A refund of a payment, as the payments API shows it (in the payment's
/// currency): asked for by staff, through the API, or at Stripe.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds, check_for_backend(diesel::pg::Pg))]
pub struct Refund {
    pub id: i64,
    pub public_id: String,
    pub order_id: Option<i64>,
    pub payment_intent_id: String,
    pub amount_minor: i64,
    pub reason: Option<String>,
    pub status: String,
    pub stripe_refund_id: Option<String>,
    pub failure_reason: Option<String>,
    /// `staff`, `api` or `stripe`.
    pub source: String,
    pub created_at: DateTime<Utc>,
}

impl Refund {
    pub fn status(&self) -> RefundStatus {
        RefundStatus::parse(&self.status).unwrap_or(RefundStatus::Requested)
    }

    pub fn money(&self, currency: Currency) -> Money {
        Money::new(self.amount_minor, currency).unwrap_or(Money::zero(currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_left_counts_refunds_in_flight() {
        let total = Money::new(10_000, Currency::Usd).unwrap();
        assert_eq!(refundable(total, 0, 0).minor(), 10_000);
        assert_eq!(refundable(total, 2_500, 0).minor(), 7_500);
        assert_eq!(refundable(total, 2_500, 6_000).minor(), 4_000);
        assert_eq!(refundable(total, 10_000, 10_000).minor(), 0);
    }
}
