//! Refunds through Stripe's Refunds API, full or partial, exactly once.
//!
//! The refund is saved first, under the form's idempotency key and with
//! the order locked, so that a double click, a retried POST or a second
//! staff member's refund cannot take more than is left; Stripe is then
//! called with an Idempotency-Key of its own (from our refund's id), and
//! refuses too if more were asked than its charge has left. Stripe's answer
//! (or its `refund.*` events, `checkout::settle::apply_stripe_refund`,
//! whichever comes first) moves the refund on;
//! items go back to stock once Stripe has taken it. The order's refunded
//! total still follows `charge.refunded` (`checkout::settle::apply_refund`).

use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::refunds::{self, RefundRecord};
use crate::admin::audit::domain::Actor;
use crate::admin::audit::store as audit;
use crate::admin::auth::domain::StaffSession;
use crate::admin::products::store as products;
use crate::checkout::settle;
use crate::db::{DbError, DbPool};
use crate::ledger::domain::{RefundStatus, refundable};
use crate::ledger::refunds as ledger_refunds;
use crate::money::Money;
use crate::orders::domain::Order;
use crate::orders::store as orders;
use crate::stripe::params::{NewRefund, RefundOf};
use crate::stripe::types::Refund;
use crate::stripe::{StripeError, StripeGateway};

/// What staff asked for.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub amount: Money,
    /// Stripe's reason code, if any.
    pub reason: Option<&'static str>,
    pub note: Option<String>,
    /// Order items to return to stock: (order item id, quantity).
    pub restock: Vec<(i64, i32)>,
    /// The form's key: the same key is the same refund.
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("the order has no payment to refund")]
    NotRefundable,
    #[error("only {left} is left to refund")]
    TooMuch { left: Money },
    #[error("this form was already used for another refund")]
    KeyReused,
    /// Stripe said no; nothing was refunded.
    #[error("Stripe refused the refund: {0}")]
    Refused(String),
    /// Stripe could not be reached: the refund is saved, and asking again
    /// (the same form, or its Retry button) is safe.
    #[error("Stripe could not be reached")]
    Unreachable,
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for RefundError {
    fn from(error: diesel::result::Error) -> Self {
        RefundError::Database(error.into())
    }
}

impl From<crate::db::PoolError> for RefundError {
    fn from(error: crate::db::PoolError) -> Self {
        RefundError::Database(error.into())
    }
}

/// What a refund request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refunded {
    /// Stripe took it (it may still be pending at the bank).
    Sent,
    /// The same request was made before: nothing more was refunded.
    AlreadyDone,
}

/// Refunds `request.amount` of the order through Stripe.
pub async fn refund(
    stripe: &StripeGateway,
    db: &DbPool,
    staff: &StaffSession,
    order_id: i64,
    request: &RefundRequest,
) -> Result<Refunded, RefundError> {
    let mut conn = db.get().await?;
    let saved = conn
        .transaction(async |conn| save_request(conn, staff, order_id, request).await)
        .await?;
    drop(conn);
    let (record, order) = match saved {
        Saved::New(record, order) | Saved::Resumed(record, order) => (record, order),
        Saved::Done => return Ok(Refunded::AlreadyDone),
    };
    let payment_intent = order
        .stripe_payment_intent_id
        .clone()
        .ok_or(RefundError::NotRefundable)?;
    let order_number = order.display_number();
    let params = NewRefund {
        payment_intent: &payment_intent,
        amount: request.amount,
        reason: record.reason.as_deref(),
        refund_id: record.id,
        of: RefundOf::Order(&order_number),
    };
    // No connection is held while Stripe is asked.
    let answer = stripe
        .client
        .create_refund(&params, &format!("storefront-refund-{}", record.id))
        .await;
    let mut conn = db.get().await?;
    match answer {
        Ok(refund) => {
            conn.transaction(async |conn| apply(conn, &record, &refund, Some(staff), &order).await)
                .await?;
            Ok(Refunded::Sent)
        }
        Err(error) if error.is_outage() || error.status() == Some(409) => {
            tracing::warn!(%error, refund.id = record.id, "refund not answered by Stripe; saved to retry");
            Err(RefundError::Unreachable)
        }
        Err(error) => {
            let message = match &error {
                StripeError::Api { body, .. } => {
                    body.message.clone().unwrap_or_else(|| body.kind.clone())
                }
                other => other.to_string(),
            };
            tracing::warn!(%error, refund.id = record.id, "Stripe refused a refund");
            ledger_refunds::record_status(
                &mut conn,
                record.id,
                RefundStatus::Refused,
                None,
                Some(&message),
            )
            .await?;
            Err(RefundError::Refused(message))
        }
    }
}

enum Saved {
    New(RefundRecord, Order),
    /// Asked before, not yet answered by Stripe: ask again.
    Resumed(RefundRecord, Order),
    Done,
}

/// Saves the request (or finds it saved under its key), with the order
/// locked so that what is left is decided one refund at a time.
async fn save_request(
    conn: &mut AsyncPgConnection,
    staff: &StaffSession,
    order_id: i64,
    request: &RefundRequest,
) -> Result<Saved, RefundError> {
    let order = orders::lock(conn, order_id)
        .await?
        .ok_or(RefundError::NotRefundable)?;
    if let Some(existing) = refunds::by_key(conn, &request.key).await? {
        if existing.order_id != Some(order_id) || existing.amount_minor != request.amount.minor() {
            return Err(RefundError::KeyReused);
        }
        return Ok(match existing.status() {
            RefundStatus::Requested => Saved::Resumed(existing, order),
            _ => Saved::Done,
        });
    }
    let Some(payment_intent) = order
        .stripe_payment_intent_id
        .as_deref()
        .filter(|_| order.is_paid())
    else {
        return Err(RefundError::NotRefundable);
    };
    let held = ledger_refunds::held(conn, payment_intent).await?;
    let left = refundable(order.total(), order.refunded().minor(), held);
    if request.amount.currency() != order.currency() || request.amount.minor() > left.minor() {
        return Err(RefundError::TooMuch { left });
    }
    let id = refunds::insert(
        conn,
        order_id,
        payment_intent,
        request.amount,
        request.reason,
        request.note.as_deref(),
        &request.key,
        &request.restock,
        staff.staff_id,
    )
    .await?;
    audit::record(
        conn,
        Actor::Staff { id: staff.staff_id, email: &staff.email },
        "order.refund_requested",
        &format!("order:{}", order.number),
        Some(json!({"refunded": order.refunded().decimal(), "left": left.decimal()})),
        Some(json!({
            "refund": request.amount.decimal(),
            "currency": order.currency().code(),
            "reason": request.reason,
            "note": request.note,
            "restock": request.restock.iter().map(|(item, qty)| json!({"order_item_id": item, "quantity": qty})).collect::<Vec<_>>(),
        })),
    )
    .await?;
    let record = refunds::by_key(conn, &request.key)
        .await?
        .ok_or(diesel::result::Error::NotFound)?;
    debug_assert_eq!(record.id, id);
    Ok(Saved::New(record, order))
}

/// Records Stripe's word on one of our refunds; once Stripe has taken it,
/// returns its items to stock (once), and a failure needs a person.
async fn apply(
    conn: &mut AsyncPgConnection,
    record: &RefundRecord,
    refund: &Refund,
    staff: Option<&StaffSession>,
    order: &Order,
) -> QueryResult<()> {
    let status = RefundStatus::parse(&refund.status).unwrap_or(RefundStatus::Pending);
    let previous = ledger_refunds::record_status(
        conn,
        record.id,
        status,
        Some(&refund.id),
        refund.failure_reason.as_deref(),
    )
    .await?;
    if let Some(staff) = staff
        && status.holds_money()
        && refunds::mark_restocked(conn, record.id).await?
    {
        restock(conn, record, staff, order).await?;
    }
    if status == RefundStatus::Failed && previous.is_some() {
        settle::record_refund_failure(conn, order.id, refund).await?;
    }
    Ok(())
}

/// Returns the refund's items to stock, with an adjustment each.
async fn restock(
    conn: &mut AsyncPgConnection,
    record: &RefundRecord,
    staff: &StaffSession,
    order: &Order,
) -> QueryResult<()> {
    let mut lines = Vec::new();
    for (item, quantity) in record.restock_lines() {
        if let Some(returned) = refunds::return_item(conn, order.id, item, quantity).await? {
            lines.push(returned);
        }
    }
    // Products in id order, as checkouts lock them: no deadlock.
    lines.sort_unstable();
    let reason = format!("Returned with a refund of order {}", order.display_number());
    for (product_id, quantity) in lines {
        if let Some(stock) = products::change_stock(conn, product_id, quantity).await? {
            products::record_adjustment(
                conn,
                product_id,
                staff.staff_id,
                quantity,
                &reason,
                Some(stock),
            )
            .await?;
        }
    }
    Ok(())
}
