//! Heals orders whose webhooks never came: every interval, asks Stripe about
//! pending orders older than a grace period and applies what it says,
//! payments that settle later (bank debits) included, whose result may be
//! lost too. Safe on several nodes at once: every transition is conditional.

use std::time::Duration;

use super::settle::{Applied, payment_failed, settle_session};
use crate::metrics;
use crate::orders::domain::{Order, OrderStatus, Source};
use crate::orders::store;
use crate::state::Jobs;
use crate::stripe::StripeError;
use crate::stripe::types::{SessionPaymentStatus, SessionStatus};

/// Pending orders read from the database at a time.
const BATCH: i64 = 100;

pub async fn run(jobs: Jobs, interval: Duration, grace: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match reconcile_once(&jobs, grace).await {
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

/// One pass over every pending order past the grace period, a page at a
/// time (orders it cannot settle do not hide the ones after them); returns
/// how many orders changed state.
pub async fn reconcile_once(jobs: &Jobs, grace: Duration) -> anyhow::Result<usize> {
    let now = chrono::Utc::now();
    let cutoff = now - chrono::Duration::from_std(grace)?;
    // An order still without a session after the longest possible Stripe call
    // belongs to a checkout whose node died before Stripe answered. (Should
    // that checkout still get its session, later, it finds the order closed
    // and expires the session: see `start_checkout`.)
    let abandoned_after = grace.max(jobs.stripe.client.worst_case_duration());
    // A session Stripe does not know may have been made with another
    // account's key, and be payable there until its lifetime is over.
    let lapsed_after = jobs.stripe.session_lifetime() + Duration::from_secs(5 * 60);
    let deadlines = Deadlines {
        abandoned: now - chrono::Duration::from_std(abandoned_after)?,
        lapsed: now - chrono::Duration::from_std(lapsed_after)?,
        processing_every: grace,
    };
    let mut settled = 0;
    let mut after = None;
    loop {
        let page = {
            let mut conn = jobs.db.get().await?;
            store::pending_before(&mut conn, cutoff, after, BATCH).await?
        };
        for order in &page {
            match settle(jobs, order, &deadlines).await? {
                Some(true) => settled += 1,
                Some(false) => {}
                // Stripe is unavailable: the next run tries again.
                None => return Ok(settled),
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == BATCH => after = Some((last.created_at, last.id)),
            _ => return Ok(settled),
        }
    }
}

/// Orders created before these may be given up on.
struct Deadlines {
    /// Without a Checkout Session: no Stripe call can still be running.
    abandoned: chrono::DateTime<chrono::Utc>,
    /// With one Stripe does not know: it cannot be paid anywhere any more.
    lapsed: chrono::DateTime<chrono::Utc>,
    /// A payment settling for days is asked about at most this often.
    processing_every: Duration,
}

/// Asks Stripe about one pending order and applies the answer: whether it
/// changed state, or `None` when Stripe cannot be reached.
async fn settle(jobs: &Jobs, order: &Order, deadlines: &Deadlines) -> anyhow::Result<Option<bool>> {
    let Some(session_id) = &order.stripe_session_id else {
        // The checkout died between our commit and Stripe's answer: no
        // shopper ever saw a payment page for it.
        if order.created_at >= deadlines.abandoned {
            return Ok(Some(false));
        }
        let mut conn = jobs.db.get().await?;
        let cancelled =
            store::cancel_without_session(&mut conn, order.id, Source::Reconciler).await?;
        if cancelled {
            metrics::get().order_transition("cancelled", Source::Reconciler);
        }
        return Ok(Some(cancelled));
    };
    if order.payment_processing() {
        let mut conn = jobs.db.get().await?;
        if !store::may_ask_stripe(&mut conn, order.id, deadlines.processing_every).await? {
            return Ok(Some(false));
        }
    }
    let client = &jobs.stripe.client;
    match client.retrieve_checkout_session(session_id).await {
        Ok(session) => {
            let unpaid_intent = session
                .payment_intent_id()
                .filter(|_| session.status == Some(SessionStatus::Complete))
                .filter(|_| session.payment_status == SessionPaymentStatus::Unpaid)
                .map(str::to_owned);
            let applied = match settle_session(client, &jobs.db, session, Source::Reconciler).await
            {
                Ok((_, applied)) => applied,
                Err(error) if error.is::<StripeError>() => {
                    tracing::warn!(%error, "Stripe unavailable; reconciler will retry next run");
                    return Ok(None);
                }
                Err(error) => return Err(error),
            };
            match unpaid_intent {
                Some(intent) => settle_submitted(jobs, session_id, &intent).await,
                None => Ok(Some(applied != Applied::Unchanged)),
            }
        }
        Err(error) if error.is_outage() => {
            tracing::warn!(%error, "Stripe unavailable; reconciler will retry next run");
            Ok(None)
        }
        // Stripe has no such session (made by a simulator since restarted,
        // or with another account's key) and its lifetime is over.
        Err(error)
            if error.code() == Some("resource_missing") && order.created_at < deadlines.lapsed =>
        {
            let mut conn = jobs.db.get().await?;
            let expired = store::close_unpaid(
                &mut conn,
                order.id,
                OrderStatus::Expired,
                Source::Reconciler,
            )
            .await?;
            if expired {
                tracing::warn!(order.id = order.id, session.id = %session_id, "checkout session unknown to Stripe; order expired");
                metrics::get().order_transition("expired", Source::Reconciler);
            }
            Ok(Some(expired))
        }
        Err(error) => {
            tracing::warn!(%error, order.id = order.id, "could not retrieve checkout session");
            Ok(Some(false))
        }
    }
}

/// A payment submitted and not settled (a bank debit) whose result event may
/// have been lost: its PaymentIntent says whether it failed (back to
/// `requires_payment_method`, or `canceled`); one still processing waits,
/// its stock held. A success shows on the session itself (`paid`).
async fn settle_submitted(
    jobs: &Jobs,
    session_id: &str,
    payment_intent: &str,
) -> anyhow::Result<Option<bool>> {
    match jobs
        .stripe
        .client
        .retrieve_payment_intent(payment_intent)
        .await
    {
        Ok(intent)
            if matches!(
                intent.status.as_str(),
                "requires_payment_method" | "canceled"
            ) =>
        {
            let mut conn = jobs.db.get().await?;
            Ok(Some(
                payment_failed(&mut conn, session_id, Source::Reconciler).await?,
            ))
        }
        Ok(_) => Ok(Some(false)),
        Err(error) if error.is_outage() => {
            tracing::warn!(%error, "Stripe unavailable; reconciler will retry next run");
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(%error, payment_intent, "could not retrieve the payment intent");
            Ok(Some(false))
        }
    }
}
