//! Applies a verified Stripe event exactly once: its id is recorded in the
//! same transaction as its effects, so a redelivery (Stripe delivers at
//! least once) changes nothing.

use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::de::DeserializeOwned;

use super::store;
use crate::admin::orders::refunding::apply_stripe_refund;
use crate::checkout::settle::{apply_refund, apply_session};
use crate::db::DbPool;
use crate::metrics;
use crate::orders::domain::{OrderStatus, Source};
use crate::orders::store as orders;
use crate::payments_api::debit;
use crate::stripe::types::{Charge, CheckoutSession, Event, PaymentIntent, Refund};

/// Applies `event` unless it was processed before (then `false`).
pub async fn process(db: &DbPool, event: &Event) -> anyhow::Result<bool> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        if !store::record_event(conn, &event.id, &event.kind).await? {
            return Ok(false);
        }
        apply(conn, event).await?;
        Ok(true)
    })
    .await
}

/// The event's object, as the type its event type carries.
fn object<T: DeserializeOwned>(event: &Event) -> anyhow::Result<T> {
    serde_json::from_value(event.data.object.clone())
        .with_context(|| format!("decoding the object of a {} event", event.kind))
}

/// The events whose session's state is applied as Stripe reports it.
const SESSION_STATE_EVENTS: [&str; 3] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
];

async fn apply(conn: &mut AsyncPgConnection, event: &Event) -> anyhow::Result<()> {
    if let Some(&kind) = SESSION_STATE_EVENTS
        .iter()
        .find(|kind| **kind == event.kind)
    {
        let session: CheckoutSession = object(event)?;
        apply_session(conn, &session, Source::Webhook(kind)).await?;
        return Ok(());
    }
    match event.kind.as_str() {
        "checkout.session.async_payment_failed" => {
            let source = Source::Webhook("checkout.session.async_payment_failed");
            let session: CheckoutSession = object(event)?;
            if let Some(order) = orders::find_by_session(conn, &session.id).await?
                && orders::close_unpaid(conn, order.id, OrderStatus::Failed, source).await?
            {
                metrics::get().order_transition("failed", source);
            }
        }
        "charge.refunded" => {
            let charge: Charge = object(event)?;
            if let Some(payment_intent) = &charge.payment_intent {
                let source = Source::Webhook("charge.refunded");
                apply_refund(conn, payment_intent.id(), charge.amount_refunded, source).await?;
            }
        }
        // A refund's own story (the back office's, or one made at Stripe):
        // pending, succeeded, failed.
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => {
            let refund: Refund = object(event)?;
            apply_stripe_refund(conn, &refund).await?;
        }
        kind @ ("payment_intent.succeeded" | "payment_intent.payment_failed") => {
            let intent: PaymentIntent = object(event)?;
            let succeeded = kind == "payment_intent.succeeded";
            if let Some(payment) = debit::settle_from_event(conn, &intent, succeeded).await? {
                tracing::info!(payment.id = %payment.id, status = payment.status.as_str(), "debit settled by its webhook");
            }
        }
        other => tracing::debug!(event.kind = other, "ignoring webhook event"),
    }
    Ok(())
}
