//! Refunds whose payment is not recorded yet. Stripe's `charge.refunded` can
//! arrive before the checkout's or debit's own success is recorded (events
//! are not ordered, and a debit may still be processing): its refunded total
//! is held here under the PaymentIntent and applied when the payment is
//! recorded. A per-PaymentIntent lock orders the two, so a refund finds its
//! payment or is held for it, never neither.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::prelude::OptionalExtension;
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::PaymentStatus;
use crate::db::Statement;

/// Takes, for the rest of the transaction, the lock that orders a charge's
/// refunds and its payment being recorded: a refund then either finds the
/// payment or is held for it (see `hold`), never neither.
pub async fn lock_payment_intent(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
) -> QueryResult<()> {
    Statement::new("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(payment_intent_id)
        .execute(conn)
        .await
        .map(drop)
}

/// Keeps a charge's refunded total for a PaymentIntent no paid order or
/// succeeded payment has yet (its refund event came first, or the debit is
/// still processing), to apply when one does. Call under `lock_payment_intent`.
pub async fn hold(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    amount_refunded_minor: i64,
) -> QueryResult<bool> {
    Statement::new(
        "INSERT INTO held_refunds (payment_intent_id, amount_refunded_minor) \
         SELECT $1, $2 WHERE $2 > 0 \
           AND NOT EXISTS (SELECT 1 FROM orders WHERE stripe_payment_intent_id = $1) \
           AND NOT EXISTS (SELECT 1 FROM payments WHERE stripe_payment_intent_id = $1 \
                             AND status = $3) \
         ON CONFLICT (payment_intent_id) DO UPDATE SET amount_refunded_minor = \
             GREATEST(held_refunds.amount_refunded_minor, EXCLUDED.amount_refunded_minor)",
    )
    .bind::<Text, _>(payment_intent_id)
    .bind::<BigInt, _>(amount_refunded_minor)
    .bind::<Text, _>(PaymentStatus::Succeeded.as_str())
    .execute(conn)
    .await
    .map(|held| held > 0)
}

/// The refunded total held for a PaymentIntent, removed. Call under `lock_payment_intent`.
pub async fn take(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
) -> QueryResult<Option<i64>> {
    Statement::new(
        "DELETE FROM held_refunds WHERE payment_intent_id = $1 RETURNING amount_refunded_minor",
    )
    .bind::<Text, _>(payment_intent_id)
    .get_result::<HeldRefund>(conn)
    .await
    .optional()
    .map(|held| held.map(|held| held.amount_refunded_minor))
}

/// Deletes refunds held since before `cutoff`: their payments never came
/// (charges made outside this shop, say). Returns how many.
pub async fn purge(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    Statement::new("DELETE FROM held_refunds WHERE created_at < $1")
        .bind::<Timestamptz, _>(cutoff)
        .execute(conn)
        .await
}

#[derive(QueryableByName)]
struct HeldRefund {
    #[diesel(sql_type = BigInt)]
    amount_refunded_minor: i64,
}
