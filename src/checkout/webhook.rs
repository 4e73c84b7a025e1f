//! `POST /webhooks/stripe`: verify the signature on the raw bytes, record the
//! event id, apply the event, all in one transaction; answer fast.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::payments::{apply_refund, apply_session};
use crate::db::schema::stripe_events;
use crate::metrics;
use crate::orders::models::{self, Order, OrderStatus};
use crate::payments_api;
use crate::startup::AppState;
use crate::stripe::types::{Charge, CheckoutSession, Event, PaymentIntent};
use crate::stripe::webhook::{DEFAULT_TOLERANCE_SECS, verify};

/// Stripe events are small; anything near this is not from Stripe.
pub const WEBHOOK_BODY_LIMIT: usize = 512 * 1024;

/// Registered with its own body limit in the route table.
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    if let Err(error) = verify(
        &body,
        header,
        &state.payments.webhook_secret,
        now,
        DEFAULT_TOLERANCE_SECS,
    ) {
        tracing::warn!(%error, "rejected webhook");
        metrics::get().webhook("unverified", "rejected");
        return reply(StatusCode::BAD_REQUEST, json!({"error": error.to_string()}));
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "malformed event"})),
    };
    let outcome = process(&state, &event).await;
    let label = match &outcome {
        Ok(true) => "processed",
        Ok(false) => "duplicate",
        Err(_) => "failed",
    };
    metrics::get().webhook(&event.kind, label);
    match outcome {
        Ok(true) => reply(StatusCode::OK, json!({"received": true})),
        Ok(false) => reply(StatusCode::OK, json!({"received": true, "duplicate": true})),
        Err(error) => {
            // Stripe retries non-2xx deliveries, so a transient failure heals itself.
            tracing::error!(error = ?error, event.id = %event.id, event.kind = %event.kind, "webhook processing failed");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "processing failed"}),
            )
        }
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

/// Returns false for an event processed before. The event id is recorded in
/// the same transaction as its effects: both happen, or neither.
async fn process(state: &AppState, event: &Event) -> anyhow::Result<bool> {
    let mut conn = state.db.get().await?;
    conn.transaction(async |conn| {
        let fresh = diesel::insert_into(stripe_events::table)
            .values((
                stripe_events::id.eq(&event.id),
                stripe_events::kind.eq(&event.kind),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if fresh == 0 {
            return Ok(false);
        }
        apply_event(conn, event).await?;
        Ok(true)
    })
    .await
}

async fn apply_event(conn: &mut AsyncPgConnection, event: &Event) -> anyhow::Result<()> {
    let source = format!("webhook:{}", event.kind);
    match event.kind.as_str() {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.expired" => {
            let session: CheckoutSession = serde_json::from_value(event.data.object.clone())
                .context("decoding the session")?;
            apply_session(conn, &session, &source).await?;
        }
        "checkout.session.async_payment_failed" => {
            let session: CheckoutSession = serde_json::from_value(event.data.object.clone())
                .context("decoding the session")?;
            if let Some(order) = Order::find_by_session(conn, &session.id).await?
                && models::close_unpaid(conn, order.id, OrderStatus::Failed, &source).await?
            {
                metrics::get().order_transition("failed", &source);
            }
        }
        "charge.refunded" => {
            let charge: Charge =
                serde_json::from_value(event.data.object.clone()).context("decoding the charge")?;
            if let Some(payment_intent) = &charge.payment_intent {
                apply_refund(conn, payment_intent.id(), charge.amount_refunded, &source).await?;
            }
        }
        "payment_intent.succeeded" | "payment_intent.payment_failed" => {
            let intent: PaymentIntent = serde_json::from_value(event.data.object.clone())
                .context("decoding the payment intent")?;
            let succeeded = event.kind == "payment_intent.succeeded";
            if let Some(payment) =
                payments_api::models::settle_from_event(conn, &intent, succeeded).await?
            {
                tracing::info!(payment.id = %payment.id, status = %payment.status, "debit settled by its webhook");
            }
        }
        other => tracing::debug!(event.kind = other, "ignoring webhook event"),
    }
    Ok(())
}
