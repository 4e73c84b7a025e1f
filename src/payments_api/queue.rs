//! The queue worker, a task on every node: charges asynchronous debits
//! (`"confirm": "async"`), oldest first. It claims small batches that no
//! other node holds (`FOR UPDATE SKIP LOCKED`) under a lease, takes a turn
//! from the shared Stripe budget for each charge, sends it through the
//! synchronous debit's `send` and records the outcome through its
//! `record_outcome`, taking the debit off the queue in the same
//! transaction.
//!
//! Exactly once: a node that dies mid-charge leaves its debits leased;
//! once the lease is over another node sends them again under the same
//! Stripe Idempotency-Key (derived from the payment id), which Stripe
//! answers with the first PaymentIntent instead of charging twice, and the
//! outcome is written only while the debit is unsettled. A worker is woken
//! by the queue's notification (`debits_queued`) and looks every few
//! seconds anyway, should one be lost.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::debit::{
    DebitError, STRIPE_KEY_LIFETIME, read_answer, record_outcome, send, take_turn, unanswered,
};
use super::store::{self, QueuedDebit};
use crate::db::listen::Subscriber;
use crate::state::Jobs;
use crate::stripe::StripeGateway;
use crate::stripe::budget::Call;

/// The channel the queue's trigger notifies.
pub const CHANNEL: &str = "debits_queued";
/// Debits a worker charges side by side, each in its own turn at Stripe:
/// enough to keep the budget's turns taken while others are on the wire
/// (a slow answer must not leave turns unused), few enough that their
/// turns are near (at 200 a second, three nodes' 32 are half a second
/// ahead) and the queue is shared fairly.
const IN_FLIGHT: usize = 32;
/// How often an idle worker looks for due debits without a notification.
const POLL: Duration = Duration::from_secs(5);
/// The wait before asking Stripe again about a charge whose answer was
/// lost; it doubles with each try, up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Rings when debits are queued (or the listener connects again, having
/// missed what was queued meanwhile); a ring while the worker is busy is
/// kept for when it is done.
#[derive(Default)]
pub struct Doorbell(Notify);

impl Subscriber for Doorbell {
    fn connected(&self) {
        self.0.notify_one();
    }

    fn disconnected(&self) {}

    fn notified(&self, _payload: &str) {
        self.0.notify_one();
    }
}

/// Charges queued debits until the task is stopped.
pub async fn run(jobs: Jobs, doorbell: Arc<Doorbell>) {
    loop {
        if let Err(error) = charge_due(&jobs).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "the debit queue worker failed; trying again"
            );
        }
        tokio::select! {
            () = doorbell.0.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// How long a claim keeps other workers off a debit: longer than its wait
/// for a turn and its Stripe call with every retry.
fn lease(stripe: &StripeGateway) -> Duration {
    stripe.client.worst_case_duration() + stripe.budget.max_wait + Duration::from_secs(10)
}

/// Charges debits until none is due: claims up to `IN_FLIGHT`, and claims
/// more whenever half of them are done, so that the next turns are taken
/// while the last ones are still on the wire. Each charge is a task of its
/// own, which runs on while more are claimed (and ends with the worker);
/// when claiming fails, those in flight still finish.
async fn charge_due(jobs: &Jobs) -> anyhow::Result<()> {
    let lease = lease(&jobs.stripe);
    let mut in_flight = JoinSet::new();
    let mut drained = false;
    let mut failure = None;
    loop {
        if !drained && in_flight.len() <= IN_FLIGHT / 2 {
            let room = i64::try_from(IN_FLIGHT - in_flight.len()).unwrap_or(1);
            let claimed = async {
                let mut conn = jobs.db.get().await?;
                anyhow::Ok(store::claim_queued(&mut conn, room, lease).await?)
            }
            .await
            .unwrap_or_else(|error| {
                failure = Some(error);
                Vec::new()
            });
            drained = claimed.is_empty();
            for debit in claimed {
                let jobs = jobs.clone();
                in_flight.spawn(async move {
                    if let Err(error) = charge(&jobs, &debit).await {
                        // Left leased: it is tried again when the lease is over.
                        tracing::warn!(%error, payment.id = %debit.payment.id, "could not charge a queued debit");
                    }
                });
            }
        }
        if in_flight.join_next().await.is_none() {
            return failure.map_or(Ok(()), Err);
        }
    }
}

/// Charges one claimed debit and records how it went.
async fn charge(jobs: &Jobs, queued: &QueuedDebit) -> Result<(), DebitError> {
    let payment = &queued.payment;
    let db = &jobs.db;
    if queued.attempts > 1 && chrono::Utc::now() - payment.created_at > STRIPE_KEY_LIFETIME {
        // An earlier try may have charged, and Stripe keeps idempotency keys
        // for a day: asked again now, it could charge twice. Left processing
        // for its webhook and the reconciler, which ask Stripe what happened.
        store::dequeue(&mut *db.get().await?, &payment.id).await?;
        return Ok(());
    }
    match take_turn(db, &jobs.stripe.budget, Call::Write).await {
        Ok(()) => {}
        Err(DebitError::QueueFull { retry_after }) => {
            // Nothing was sent: the synchronous debits have the turns.
            store::retry_queued(&mut *db.get().await?, &payment.id, retry_after).await?;
            return Ok(());
        }
        Err(error) => return Err(error),
    }
    let result = match send(&jobs.stripe, payment, queued.sent_description.as_deref()).await {
        Ok(result) => result,
        Err(error) => {
            // It cannot be sent at all: the reconciler finds it never
            // created at Stripe and fails it.
            store::dequeue(&mut *db.get().await?, &payment.id).await?;
            return Err(error);
        }
    };
    let Some((outcome, _)) = read_answer(payment, &result) else {
        let error = unanswered(result);
        let delay = retry_delay(queued.attempts);
        tracing::warn!(%error, payment.id = %payment.id, retry_in = ?delay, "no answer from the payment provider for a queued debit; asking again later");
        store::retry_queued(&mut *db.get().await?, &payment.id, delay).await?;
        return Ok(());
    };
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        // Its webhook may have come first: then this writes nothing.
        record_outcome(conn, &payment.id, &outcome, true).await?;
        store::dequeue(conn, &payment.id).await
    })
    .await?;
    Ok(())
}

/// The wait before the next try of a charge tried `attempts` times.
fn retry_delay(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    (RETRY_FIRST * 2u32.pow(doublings)).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_answer_is_asked_again_after_a_doubling_wait_of_at_most_a_minute() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(7), Duration::from_secs(60));
        assert_eq!(retry_delay(i32::MAX), Duration::from_secs(60));
    }
}
