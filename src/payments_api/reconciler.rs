//! Heals debits left `processing` when both Stripe's answer and the
//! `payment_intent.*` webhook were lost: every interval, each such debit
//! past a grace period is looked up among its customer's PaymentIntents (by
//! our payment id in their metadata) and settled as Stripe recorded it, or
//! marked failed when Stripe never created it. Refunds left unanswered are
//! finished too (`refund::finish_unanswered`). Safe on several nodes at
//! once: every write is conditional on the debit still being unsettled, and
//! a refund asked again carries the same Stripe key. Debits still queued
//! (never sent) or on the queue worker's hands are not its business.

use std::time::Duration;

use diesel_async::AsyncConnection;

use super::debit::{record_outcome, settle_intent};
use super::refund;
use crate::ledger::domain::{Outcome, Payment, PaymentStatus};
use crate::ledger::store as ledger;
use crate::state::Jobs;
use crate::stripe::StripeError;
use crate::stripe::types::PaymentIntent;

/// Debits looked at per run (they are rare: each lost two answers).
const BATCH: i64 = 100;
/// How much earlier than our record a PaymentIntent may have been created
/// (clocks differ): the search through the customer's intents stops there.
const CLOCK_SKEW_SECS: i64 = 300;

pub async fn run(jobs: Jobs, interval: Duration, after: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match reconcile_once(&jobs, after).await {
            Ok(0) => {}
            Ok(settled) => tracing::info!(settled, "debit reconciler settled processing debits"),
            Err(error) => tracing::warn!(error = ?error, "debit reconciler run failed"),
        }
        match finish_refunds(&jobs, after).await {
            Ok(0) => {}
            Ok(finished) => {
                tracing::info!(finished, "debit reconciler finished unanswered refunds")
            }
            Err(error) => tracing::warn!(error = ?error, "refund reconciliation failed"),
        }
    }
}

/// One pass over the debits still processing past the grace period (and
/// past the longest a request for them can still be talking to Stripe);
/// returns how many were settled.
pub async fn reconcile_once(jobs: &Jobs, after: Duration) -> anyhow::Result<usize> {
    let in_flight = jobs.stripe.client.worst_case_duration() + Duration::from_secs(10);
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(after.max(in_flight))?;
    let debits =
        ledger::processing_debits_before(&mut *jobs.db.get().await?, cutoff, BATCH).await?;
    let mut settled = 0;
    for payment in &debits {
        match find_intent(jobs, payment).await {
            Ok(found) => {
                let mut conn = jobs.db.get().await?;
                let written = conn
                    .transaction(async |conn| match &found {
                        Some(intent) => settle_intent(conn, payment, intent).await,
                        None => never_created(conn, payment).await,
                    })
                    .await?;
                settled += usize::from(written.is_some());
            }
            Err(error) if error.is_outage() => {
                tracing::warn!(%error, "Stripe unavailable; the debit reconciler will retry next run");
                break;
            }
            Err(error) => {
                tracing::warn!(%error, payment.id = %payment.id, "could not look the debit up at Stripe");
            }
        }
    }
    Ok(settled)
}

/// Finishes the API's refunds unanswered past the grace period (and past
/// the longest a request for them can still be talking to Stripe).
async fn finish_refunds(jobs: &Jobs, after: Duration) -> anyhow::Result<usize> {
    let in_flight = jobs.stripe.client.worst_case_duration() + Duration::from_secs(10);
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(after.max(in_flight))?;
    refund::finish_unanswered(&jobs.stripe, &jobs.db, cutoff).await
}

/// The debit's PaymentIntent at Stripe, found among its customer's newest.
async fn find_intent(jobs: &Jobs, payment: &Payment) -> Result<Option<PaymentIntent>, StripeError> {
    let Some(customer) = &payment.stripe_customer_id else {
        return Ok(None);
    };
    let oldest = payment.created_at.timestamp() - CLOCK_SKEW_SECS;
    let mut after: Option<String> = None;
    loop {
        let page = jobs
            .stripe
            .client
            .customer_payment_intents(customer, after.as_deref())
            .await?;
        for intent in &page.data {
            if intent.metadata.get("payment_id") == Some(&payment.id) {
                return Ok(Some(intent.clone()));
            }
        }
        match page.data.last() {
            Some(last) if page.has_more && last.created >= oldest => after = Some(last.id.clone()),
            _ => return Ok(None),
        }
    }
}

/// Stripe has no PaymentIntent for the debit: its request never reached
/// Stripe, and nothing was charged.
async fn never_created(
    conn: &mut diesel_async::AsyncPgConnection,
    payment: &Payment,
) -> diesel::QueryResult<Option<Payment>> {
    let outcome = Outcome {
        status: PaymentStatus::Failed,
        payment_intent_id: None,
        failure_code: Some("payment_not_created"),
        decline_code: None,
        failure_message: Some(
            "The payment provider never received this debit: nothing was charged.",
        ),
    };
    record_outcome(conn, &payment.id, &outcome, true).await
}
