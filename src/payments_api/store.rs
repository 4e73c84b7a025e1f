//! The payments API's idempotency records (`api_idempotency`): who holds a
//! key, the request it was first used with (a debit, or a refund of a
//! payment), and the answer replays get; the queue of asynchronous debits
//! (`debit_queue`); and the turns at Stripe that
//! debits share (`stripe_call_slots`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, SmallInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::domain::{Confirm, DebitRequest, RefundRequest};
use crate::db::Statement;
use crate::db::schema::{api_idempotency, debit_queue, payments, refunds as refunds_table};
use crate::ids::{PaymentId, RefundId};
use crate::ledger::domain::{Payment, PaymentStatus, Refund, RefundStatus, refundable};
use crate::ledger::refunds;
use crate::ledger::store::{self as ledger, NewDebit};
use crate::money::{Currency, Money};
use crate::orders::store as orders;

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
    refund_id: Option<i64>,
    response_status: Option<i16>,
    response_body: Option<serde_json::Value>,
}

/// What an earlier request with a key left.
enum KeyState {
    Replay {
        status: u16,
        body: serde_json::Value,
    },
    Mismatch,
    InFlight,
    /// Abandoned mid-way: this request now holds the key and finishes the
    /// same payment or refund.
    TakenOver {
        payment_id: String,
        refund_id: Option<i64>,
    },
}

/// What an earlier request with `key` left, if there was one. A request in
/// flight holds its key for `lock_for`, which must outlast any Stripe call
/// with its retries: after that it counts as abandoned (its node died) and
/// this request takes it over.
async fn key_state(
    conn: &mut AsyncPgConnection,
    idempotency: IdempotencyKey<'_>,
    request_hash: &[u8],
) -> QueryResult<Option<KeyState>> {
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
            api_idempotency::refund_id,
            api_idempotency::response_status,
            api_idempotency::response_body,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some(record) = record else {
        return Ok(None);
    };
    if record.request_hash != request_hash {
        return Ok(Some(KeyState::Mismatch));
    }
    if let (Some(status), Some(body)) = (record.response_status, record.response_body) {
        return Ok(Some(KeyState::Replay {
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
    Ok(Some(if taken == 0 {
        KeyState::InFlight
    } else {
        KeyState::TakenOver {
            payment_id: record.payment_id,
            refund_id: record.refund_id,
        }
    }))
}

/// What an earlier debit request with `key` left, if there was one.
pub async fn existing_claim(
    conn: &mut AsyncPgConnection,
    idempotency: IdempotencyKey<'_>,
    request: &DebitRequest,
) -> QueryResult<Option<Claim>> {
    let Some(state) = key_state(conn, idempotency, &request.hash()).await? else {
        return Ok(None);
    };
    Ok(Some(match state {
        KeyState::Replay { status, body } => Claim::Replay { status, body },
        KeyState::Mismatch => Claim::Mismatch,
        KeyState::InFlight => Claim::InFlight,
        KeyState::TakenOver { payment_id, .. } => {
            let payment = match PaymentId::parse(&payment_id) {
                Some(id) => ledger::find_payment(conn, &id).await?,
                None => None,
            };
            match payment {
                Some(payment) => Claim::Resumed(payment),
                None => Claim::InFlight,
            }
        }
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
         WHERE payment_id = $1 AND refund_id IS NULL AND response_status = 422",
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

/// Where a refund's idempotency key stands when a request arrives with it.
#[derive(Debug)]
pub enum RefundClaim {
    /// This request owns the key: ask Stripe for this new refund.
    Fresh(Refund),
    /// An earlier request with this key died mid-way: finish its refund.
    Resumed(Refund),
    Replay {
        status: u16,
        body: serde_json::Value,
    },
    InFlight,
    Mismatch,
}

/// Why a payment cannot be refunded as asked (nothing is recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrefundable {
    /// Not a succeeded payment (still processing, failed).
    NotSucceeded,
    /// Its refunds already take all of it back.
    NothingLeft,
    /// More than its refunds leave: at most this much.
    MoreThanLeft(Money),
}

/// What an earlier refund request with `key` left, if there was one.
pub async fn existing_refund_claim(
    conn: &mut AsyncPgConnection,
    idempotency: IdempotencyKey<'_>,
    request: &RefundRequest,
) -> QueryResult<Option<RefundClaim>> {
    let Some(state) = key_state(conn, idempotency, &request.hash()).await? else {
        return Ok(None);
    };
    Ok(Some(match state {
        KeyState::Replay { status, body } => RefundClaim::Replay { status, body },
        KeyState::Mismatch => RefundClaim::Mismatch,
        KeyState::InFlight => RefundClaim::InFlight,
        KeyState::TakenOver { refund_id, .. } => {
            let refund = match refund_id {
                Some(id) => refunds::find(conn, id).await?,
                None => None,
            };
            // The same hash names a refund request, so a key without a
            // refund was another endpoint's.
            refund.map_or(RefundClaim::Mismatch, RefundClaim::Resumed)
        }
    }))
}

/// Claims `key` for this refund request: with the payment's row (and its
/// order's, which staff refunds lock) locked, so that two refunds cannot
/// both take what is left, checks what is left, then records the key and a
/// `requested` refund in one transaction. If another request got the key
/// first, reports on it.
pub async fn insert_refund_claim(
    conn: &mut AsyncPgConnection,
    idempotency: IdempotencyKey<'_>,
    request: &RefundRequest,
) -> QueryResult<Result<RefundClaim, Unrefundable>> {
    let IdempotencyKey {
        api_key_id, key, ..
    } = idempotency;
    let hash = request.hash();
    let refund_id = RefundId::generate();
    let outcome = conn
        .transaction(async |conn| {
            let Some(payment) = ledger::lock_payment(conn, &request.payment_id).await? else {
                return Ok(Err(Unrefundable::NotSucceeded));
            };
            // Its order's too, as staff refunds of the order take it.
            if let Some(order_id) = payment.order_id {
                orders::lock(conn, order_id).await?;
            }
            let Some(payment_intent) = payment
                .stripe_payment_intent_id
                .as_deref()
                .filter(|_| payment.status == PaymentStatus::Succeeded)
            else {
                return Ok(Err(Unrefundable::NotSucceeded));
            };
            let held = refunds::held(conn, payment_intent).await?;
            let left = refundable(payment.money(), payment.amount_refunded_minor, held);
            if left.minor() == 0 {
                return Ok(Err(Unrefundable::NothingLeft));
            }
            let amount = request.amount.unwrap_or(left);
            if amount.currency() != left.currency() || amount.minor() > left.minor() {
                return Ok(Err(Unrefundable::MoreThanLeft(left)));
            }
            let refund = refunds::insert_from_api(
                conn,
                &refund_id,
                payment_intent,
                payment.order_id,
                amount,
                request.reason,
            )
            .await?;
            let inserted = diesel::insert_into(api_idempotency::table)
                .values((
                    api_idempotency::api_key_id.eq(api_key_id),
                    api_idempotency::key.eq(key),
                    api_idempotency::request_hash.eq(&hash),
                    api_idempotency::payment_id.eq(&payment.id),
                    api_idempotency::refund_id.eq(refund.id),
                    api_idempotency::locked_at.eq(diesel::dsl::now),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                // Another request claimed the key first: forget this refund.
                return Err(diesel::result::Error::RollbackTransaction);
            }
            Ok(Ok(refund))
        })
        .await;
    match outcome {
        Ok(Ok(refund)) => Ok(Ok(RefundClaim::Fresh(refund))),
        Ok(Err(unrefundable)) => Ok(Err(unrefundable)),
        Err(diesel::result::Error::RollbackTransaction) => {
            Ok(Ok(existing_refund_claim(conn, idempotency, request)
                .await?
                .unwrap_or(RefundClaim::InFlight)))
        }
        Err(error) => Err(error),
    }
}

/// Records what Stripe said of a refund (`status`, its refund's id, why
/// it refused or failed) and the answer for its key, in one transaction.
/// A refund Stripe took counts in its payment's refunded total at once
/// (`charge.refunded`, which follows, then changes nothing).
pub async fn finish_refund(
    conn: &mut AsyncPgConnection,
    refund_id: i64,
    said: (RefundStatus, Option<&str>, Option<&str>),
    answer_for: Option<(
        i64,
        &str,
        impl Fn(&Refund) -> (u16, serde_json::Value) + Send + Sync,
    )>,
) -> QueryResult<Option<(u16, serde_json::Value)>> {
    let (status, stripe_refund_id, failure_reason) = said;
    conn.transaction(async |conn| {
        refunds::record_status(conn, refund_id, status, stripe_refund_id, failure_reason).await?;
        let refund = refunds::find(conn, refund_id)
            .await?
            .ok_or(diesel::result::Error::NotFound)?;
        if refund.status() == RefundStatus::Succeeded {
            let taken = refunds::succeeded(conn, &refund.payment_intent_id).await?;
            ledger::record_refund(conn, &refund.payment_intent_id, taken).await?;
        }
        let Some((api_key_id, key, response)) = answer_for else {
            return Ok(None);
        };
        let (status, body) = response(&refund);
        store_answer(conn, api_key_id, key, status, &body).await?;
        Ok(Some((status, body)))
    })
    .await
}

/// The API's refunds still `requested` since before `cutoff`, with the
/// request each answers (its payment and currency), oldest first.
pub async fn unanswered_refunds(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
) -> QueryResult<Vec<(Refund, RefundRequest)>> {
    let rows: Vec<(Refund, String, Currency)> =
        refunds_table::table
            .inner_join(payments::table.on(
                payments::stripe_payment_intent_id.eq(refunds_table::payment_intent_id.nullable()),
            ))
            .filter(refunds_table::source.eq("api"))
            .filter(refunds_table::status.eq(RefundStatus::Requested.as_str()))
            .filter(refunds_table::created_at.lt(cutoff))
            .order_by(refunds_table::id)
            .limit(100)
            .select((Refund::as_select(), payments::id, payments::currency))
            .load(conn)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(refund, payment_id, currency)| {
            let payment_id = PaymentId::parse(&payment_id)?;
            let request = RefundRequest {
                payment_id,
                currency,
                amount: None,
                reason: None,
            };
            Some((refund, request))
        })
        .collect())
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
