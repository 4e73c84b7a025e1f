//! Applies a verified Stripe event exactly once: its id is recorded in the
//! same transaction as its effects, so a redelivery (Stripe delivers at
//! least once) changes nothing. What Stripe must still be asked (a
//! completed session's promotion code) is asked before that transaction.

use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::de::DeserializeOwned;

use super::store;
use crate::checkout::settle::{
    Reported, apply_refund, apply_session, apply_stripe_refund, payment_failed, report,
};
use crate::db::DbPool;
use crate::orders::domain::Source;
use crate::payments_api::debit;
use crate::stripe::StripeClient;
use crate::stripe::types::{Charge, Event, PaymentIntent, Refund};

/// Applies `event` unless it was processed before (then `false`).
pub async fn process(db: &DbPool, stripe: &StripeClient, event: &Event) -> anyhow::Result<bool> {
    let reported = match session_state_event(event) {
        Some(_) => Some(report(stripe, object(event)?).await?),
        None => None,
    };
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        if !store::record_event(conn, &event.id, &event.kind).await? {
            return Ok(false);
        }
        apply(conn, event, reported.as_ref()).await?;
        Ok(true)
    })
    .await
}

/// The event's object, as the type its event type carries.
fn object<T: DeserializeOwned>(event: &Event) -> anyhow::Result<T> {
    serde_json::from_value(event.data.object.clone())
        .with_context(|| format!("decoding the object of a {} event", event.kind))
}

/// The object of an event about a Checkout Session, as far as it is needed.
#[derive(serde::Deserialize)]
struct SessionId {
    id: String,
}

/// The events whose session's state is applied as Stripe reports it.
const SESSION_STATE_EVENTS: [&str; 3] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
];

/// The event type, if it is one of those.
fn session_state_event(event: &Event) -> Option<&'static str> {
    SESSION_STATE_EVENTS
        .iter()
        .find(|kind| **kind == event.kind)
        .copied()
}

async fn apply(
    conn: &mut AsyncPgConnection,
    event: &Event,
    reported: Option<&Reported>,
) -> anyhow::Result<()> {
    if let (Some(kind), Some(reported)) = (session_state_event(event), reported) {
        apply_session(conn, reported, Source::Webhook(kind)).await?;
        return Ok(());
    }
    match event.kind.as_str() {
        "checkout.session.async_payment_failed" => {
            let source = Source::Webhook("checkout.session.async_payment_failed");
            let session: SessionId = object(event)?;
            payment_failed(conn, &session.id, source).await?;
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
