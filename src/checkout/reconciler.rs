//! Heals orders whose webhooks never came: every interval, asks Stripe about
//! pending orders older than a grace period and applies what it says. Safe
//! on several nodes at once: every transition is conditional.

use std::time::Duration;

use actix_web::web;

use super::payments::apply_session;
use crate::metrics;
use crate::orders::models::{self, Order, OrderStatus};
use crate::startup::AppState;

/// Orders looked at per run; the rest wait for the next run.
const BATCH: i64 = 100;

pub async fn run(state: web::Data<AppState>, interval: Duration, grace: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match reconcile_once(&state, grace).await {
            Ok(settled) => {
                metrics::get().reconciler_run("ok");
                if settled > 0 {
                    tracing::info!(settled, "reconciler settled pending orders");
                }
            }
            Err(error) => {
                metrics::get().reconciler_run("error");
                tracing::warn!(error = ?error, "reconciler run failed");
            }
        }
    }
}

/// One pass; returns how many orders changed state.
pub async fn reconcile_once(state: &AppState, grace: Duration) -> anyhow::Result<usize> {
    let now = chrono::Utc::now();
    let cutoff = now - chrono::Duration::from_std(grace)?;
    // An order still without a session after the longest possible Stripe call
    // belongs to a checkout whose node died before Stripe answered.
    let abandoned_after = grace.max(state.payments.client.worst_case_duration());
    let abandoned_cutoff = now - chrono::Duration::from_std(abandoned_after)?;
    let pending = {
        let mut conn = state.db.get().await?;
        Order::pending_before(&mut conn, cutoff, BATCH).await?
    };
    let mut settled = 0;
    for order in pending {
        let Some(session_id) = &order.stripe_session_id else {
            // The checkout died between our commit and Stripe's answer: no
            // shopper ever saw a payment page for it.
            if order.created_at >= abandoned_cutoff {
                continue;
            }
            let mut conn = state.db.get().await?;
            if models::close_unpaid(&mut conn, order.id, OrderStatus::Cancelled, "reconciler")
                .await?
            {
                metrics::get().order_transition("cancelled", "reconciler");
                settled += 1;
            }
            continue;
        };
        match state
            .payments
            .client
            .retrieve_checkout_session(session_id)
            .await
        {
            Ok(session) => {
                let mut conn = state.db.get().await?;
                let (_, applied) = apply_session(&mut conn, &session, "reconciler").await?;
                if applied != super::payments::Applied::Unchanged {
                    settled += 1;
                }
            }
            Err(error) if error.is_outage() => {
                tracing::warn!(%error, "Stripe unavailable; reconciler will retry next run");
                break;
            }
            Err(error) => {
                tracing::warn!(%error, order.id = order.id, "could not retrieve checkout session")
            }
        }
    }
    Ok(settled)
}
