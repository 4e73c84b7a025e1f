//! The debit's idempotency records (`api_idempotency`): who holds a key, the
//! request it was first used with, and the answer replays get; the queue
//! of asynchronous debits (`debit_queue`); and the turns at Stripe that
//! debits share (`stripe_call_slots`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, SmallInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::domain::{Confirm, DebitRequest};
use crate::db::Statement;
use crate::db::schema::{api_idempotency, debit_queue};
use crate::ids::PaymentId;
use crate::ledger::domain::{Payment, PaymentStatus};
use crate::ledger::store::{self as ledger, NewDebit};

/// Where an idempotency key stands when a request arrives with it.
#[derive(Debug)]
pub enum Claim {
    /// This request owns the key: charge this new payment.
    Fresh(Payment),
    /// An earlier request with this key died mid-way: this one takes over
    /// the same payment (Stripe's own idempotency key makes it safe).
    Resumed(Payment),
    /// Answered before: replay it.
    Replay {
        status: u16,
        body: serde_json::Value,
    },
    /// Another request with this key is running right now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// A merchant's idempotency key, and how long a request in flight holds it.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    pub api_key_id: i64,
    pub key: &'a str,
    pub lock_for: std::time::Duration,
}

#[derive(Debug, Clone, Queryable)]
struct KeyRecord {
    request_hash: Vec<u8>,
    payment_id: String,
    response_status: Option<i16>,
    response_body: Option<serde_json::Value>,
}

/// What an earlier request with `key` left, if there was one. A request in
/// flight holds its key for `lock_for`, which must outlast any Stripe call
/// with its retries: after that it counts as abandoned (its node died) and
/// this request takes it over.
pub async fn existing_claim(
    conn: &mut AsyncPgConnection,
    idempotency: IdempotencyKey<'_>,
    request: &DebitRequest,
) -> QueryResult<Option<Claim>> {
    let IdempotencyKey {
        api_key_id,
        key,
        lock_for,
    } = idempotency;
    let record: Option<KeyRecord> = api_idempotency::table
        .find((api_key_id, key))
        .select((
            api_idempotency::request_hash,
            api_idempotency::payment_id,
            api_idempotency::response_status,
            api_idempotency::response_body,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some(record) = record else {
        return Ok(None);
    };
    if record.request_hash != request.hash() {
        return Ok(Some(Claim::Mismatch));
    }
    if let (Some(status), Some(body)) = (record.response_status, record.response_body) {
        return Ok(Some(Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        }));
    }
    // In flight, or abandoned: take it over only if the lock has lapsed.
    let taken = Statement::new(
        "UPDATE api_idempotency SET locked_at = now() \
         WHERE api_key_id = $1 AND key = $2 AND response_status IS NULL \
           AND (locked_at IS NULL OR locked_at < now() - make_interval(secs => $3))",
    )
    .bind::<BigInt, _>(api_key_id)
    .bind::<Text, _>(key)
    .bind::<Integer, _>(i32::try_from(lock_for.as_secs()).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    if taken == 0 {
        return Ok(Some(Claim::InFlight));
    }
    let payment = match PaymentId::parse(&record.payment_id) {
        Some(id) => ledger::find_payment(conn, &id).await?,
        None => None,
    };
    Ok(Some(match payment {
        Some(payment) => Claim::Resumed(payment),
        None => Claim::InFlight,
    }))
}

/// Claims `key` for this request: inserts the key and a `processing`
/// payment in one transaction (an asynchronous debit's payment `queued`, on
/// the queue); if another request got there first, reports on it.
pub async fn insert_claim(
    conn: &mut AsyncPgConnection,
    idempotency: IdempotencyKey<'_>,
    request: &DebitRequest,
    customer_id: &str,
    payment_method_id: &str,
    livemode: bool,
) -> QueryResult<Claim> {
    let IdempotencyKey {
        api_key_id, key, ..
    } = idempotency;
    let hash = request.hash();
    let payment_id = PaymentId::generate();
    let inserted = conn
        .transaction(async |conn| {
            let inserted = diesel::insert_into(api_idempotency::table)
                .values((
                    api_idempotency::api_key_id.eq(api_key_id),
                    api_idempotency::key.eq(key),
                    api_idempotency::request_hash.eq(&hash),
                    api_idempotency::payment_id.eq(payment_id.as_str()),
                    api_idempotency::locked_at.eq(diesel::dsl::now),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Ok::<_, diesel::result::Error>(None);
            }
            let debit = NewDebit {
                status: match request.confirm {
                    Confirm::Sync => PaymentStatus::Processing,
                    Confirm::Async => PaymentStatus::Queued,
                },
                id: &payment_id,
                account_id: request.account_id.as_str(),
                customer_id,
                payment_method_id,
                amount: request.amount,
                description: request.description.as_deref(),
                livemode,
            };
            let payment = ledger::insert_debit(conn, &debit).await?;
            if request.confirm == Confirm::Async {
                diesel::insert_into(debit_queue::table)
                    .values((
                        debit_queue::payment_id.eq(payment_id.as_str()),
                        debit_queue::description.eq(request.description.as_deref()),
                    ))
                    .execute(conn)
                    .await?;
            }
            Ok(Some(payment))
        })
        .await?;
    match inserted {
        Some(payment) => Ok(Claim::Fresh(payment)),
        None => Ok(existing_claim(conn, idempotency, request)
            .await?
            .unwrap_or(Claim::InFlight)),
    }
}

/// Stores the answer to the request with this key, for its replays.
pub async fn store_answer(
    conn: &mut AsyncPgConnection,
    api_key_id: i64,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> QueryResult<()> {
    Statement::new(
        "UPDATE api_idempotency SET response_status = $3, response_body = $4, locked_at = NULL \
         WHERE api_key_id = $1 AND key = $2",
    )
    .bind::<BigInt, _>(api_key_id)
    .bind::<Text, _>(key)
    .bind::<SmallInt, _>(i16::try_from(status).unwrap_or(500))
    .bind::<Jsonb, _>(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a stored 422 answer for the payment (its webhook settled it after
/// all): a replay then answers from the payment instead.
pub async fn forget_rejection(conn: &mut AsyncPgConnection, payment_id: &str) -> QueryResult<()> {
    Statement::new(
        "UPDATE api_idempotency SET response_status = NULL, response_body = NULL, \
             locked_at = NULL \
         WHERE payment_id = $1 AND response_status = 422",
    )
    .bind::<Text, _>(payment_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Lets a retry take the key over at once (Stripe could not be reached, so
/// the outcome is unknown and must be asked again with the same key).
pub async fn release(conn: &mut AsyncPgConnection, api_key_id: i64, key: &str) -> QueryResult<()> {
    diesel::update(api_idempotency::table.find((api_key_id, key)))
        .filter(api_idempotency::response_status.is_null())
        .set(api_idempotency::locked_at.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Slot {
    #[diesel(sql_type = BigInt)]
    wait_us: i64,
}

/// Takes the next turn in `bucket`, turns `spacing` apart, unless it is more
/// than `max_wait` away: how long to wait for it, or `None` (nothing taken).
pub async fn reserve_slot(
    conn: &mut AsyncPgConnection,
    bucket: &str,
    spacing: Duration,
    max_wait: Duration,
) -> QueryResult<Option<Duration>> {
    let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let slot: Option<Slot> = Statement::new(include_str!("sql/reserve_slot.sql"))
        .bind::<Text, _>(bucket)
        .bind::<BigInt, _>(micros(spacing))
        .bind::<BigInt, _>(micros(max_wait))
        .get_result(conn)
        .await
        .optional()?;
    Ok(slot.map(|slot| Duration::from_micros(u64::try_from(slot.wait_us).unwrap_or(0))))
}

/// A queued debit a worker has claimed, with what Stripe is to be sent.
#[derive(Debug, QueryableByName)]
pub struct QueuedDebit {
    #[diesel(embed)]
    pub payment: Payment,
    /// The description as requested (a PATCH since does not change it).
    #[diesel(sql_type = Nullable<Text>)]
    pub sent_description: Option<String>,
    /// Tries so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Claims up to `limit` due debits from the queue, oldest first, skipping
/// those another worker holds, for `lease` (after which another worker may
/// take them); marks them `processing`.
pub async fn claim_queued(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<QueuedDebit>> {
    Statement::new(include_str!("sql/claim_queued.sql"))
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
        .load(conn)
        .await
}

/// Puts a claimed debit back for a try after `delay` (nothing was sent, or
/// Stripe's answer is unknown and must be asked again with the same key).
pub async fn retry_queued(
    conn: &mut AsyncPgConnection,
    payment_id: &str,
    delay: Duration,
) -> QueryResult<()> {
    Statement::new(
        "UPDATE debit_queue SET run_at = now() + $2 * interval '1 millisecond' \
         WHERE payment_id = $1",
    )
    .bind::<Text, _>(payment_id)
    .bind::<BigInt, _>(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the debit off the queue: its outcome is recorded, or Stripe's
/// webhook or the reconciler will settle it.
pub async fn dequeue(conn: &mut AsyncPgConnection, payment_id: &str) -> QueryResult<()> {
    Statement::new("DELETE FROM debit_queue WHERE payment_id = $1")
        .bind::<Text, _>(payment_id)
        .execute(conn)
        .await?;
    Ok(())
}
