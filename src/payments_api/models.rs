//! Accounts and payments in PostgreSQL (diesel-async). Amounts are integer
//! minor units; ids are ours (`acct_…`, `pay_…`), never Stripe's.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, SmallInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rand::RngCore;

use crate::db::Statement;
use crate::db::schema::{accounts, api_idempotency, payments};
use crate::held_refunds;
use crate::money::{Currency, Money};
use crate::stripe::types::PaymentIntent;

/// `prefix_` and 22 random alphanumeric characters (about 131 bits).
pub fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 22];
    rand::rng().fill_bytes(&mut bytes);
    let random: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}_{random}")
}

/// Whether `id` can be one of our ids with `prefix`: checked before any query,
/// so arbitrary input never reaches the database.
pub fn plausible_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            (16..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Account {
    pub id: String,
    pub stripe_customer_id: Option<String>,
    pub email: Option<String>,
}

impl Account {
    pub async fn find(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<Option<Account>> {
        if !plausible_id(id, "acct") {
            return Ok(None);
        }
        accounts::table
            .find(id)
            .select(Account::as_select())
            .first(conn)
            .await
            .optional()
    }
}

/// The account of the Stripe customer that paid a checkout, created on its
/// first payment; `None` for a payment with no customer. The email is only
/// kept to show (the first one the customer paid with): Stripe's page lets
/// anyone type any address, so it never finds or joins an account. Safe
/// under concurrency: the unique customer id decides.
pub async fn upsert_account(
    conn: &mut AsyncPgConnection,
    customer_id: Option<&str>,
    email: Option<&str>,
) -> QueryResult<Option<String>> {
    let Some(customer_id) = customer_id else {
        return Ok(None);
    };
    let email = email.filter(|e| !e.is_empty() && e.len() <= 320);
    // DO UPDATE, not DO NOTHING: it answers the row even when another
    // transaction committed it after this statement began.
    Statement::new(
        "INSERT INTO accounts (id, email, stripe_customer_id) VALUES ($1, $2, $3) \
         ON CONFLICT (stripe_customer_id) DO UPDATE \
             SET email = COALESCE(accounts.email, EXCLUDED.email), updated_at = now() \
         RETURNING id",
    )
    .bind::<Text, _>(new_id("acct"))
    .bind::<Nullable<Text>, _>(email)
    .bind::<Text, _>(customer_id)
    .get_result::<AccountId>(conn)
    .await
    .map(|row| Some(row.id))
}

#[derive(QueryableByName)]
struct AccountId {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Stripe is being asked (or the answer was lost: a retry settles it).
    Processing,
    Succeeded,
    Failed,
    /// The card needs the cardholder (3D Secure): ask them to pay on-session.
    RequiresAction,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Processing => "processing",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::RequiresAction => "requires_action",
        }
    }

    /// After Stripe declined a debit with this error code: the cardholder
    /// must authenticate, or it failed.
    pub fn after_decline(code: Option<&str>) -> PaymentStatus {
        if code == Some("authentication_required") {
            PaymentStatus::RequiresAction
        } else {
            PaymentStatus::Failed
        }
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub struct Payment {
    pub id: String,
    pub account_id: String,
    pub order_id: Option<i64>,
    pub stripe_payment_intent_id: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub stripe_payment_method_id: Option<String>,
    pub amount_minor: i64,
    pub amount_refunded_minor: i64,
    pub currency: String,
    pub status: String,
    pub failure_code: Option<String>,
    pub decline_code: Option<String>,
    pub failure_message: Option<String>,
    pub description: Option<String>,
    pub metadata: serde_json::Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

impl Payment {
    pub async fn find(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<Option<Payment>> {
        if !plausible_id(id, "pay") {
            return Ok(None);
        }
        payments::table
            .find(id)
            .select(Payment::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub fn money(&self) -> Option<Money> {
        let currency: Currency = self.currency.parse().ok()?;
        Money::new(self.amount_minor, currency).ok()
    }

    /// What Stripe has refunded of it.
    pub fn refunded(&self) -> Option<Money> {
        let currency: Currency = self.currency.parse().ok()?;
        Money::new(self.amount_refunded_minor, currency).ok()
    }

    /// An account's payments, newest first, after the cursor payment (which
    /// must be the account's). Loads one more than `limit` to tell `has_more`.
    pub async fn history(
        conn: &mut AsyncPgConnection,
        account_id: &str,
        after: Option<&Payment>,
        limit: i64,
    ) -> QueryResult<(Vec<Payment>, bool)> {
        let mut query = payments::table
            .filter(payments::account_id.eq(account_id))
            .select(Payment::as_select())
            .order_by((payments::created_at.desc(), payments::id.desc()))
            .limit(limit + 1)
            .into_boxed();
        if let Some(cursor) = after {
            query = query.filter(
                payments::created_at
                    .lt(cursor.created_at)
                    .or(payments::created_at
                        .eq(cursor.created_at)
                        .and(payments::id.lt(&cursor.id))),
            );
        }
        let mut rows = query.load(conn).await?;
        let has_more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((rows, has_more))
    }

    /// Sets description and metadata if `version` is still current, and
    /// increments it. `None` means a stale version (or a missing payment):
    /// nothing changed.
    pub async fn update_if_version(
        conn: &mut AsyncPgConnection,
        id: &str,
        version: i32,
        description: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> QueryResult<Option<Payment>> {
        let metadata = serde_json::to_value(metadata).unwrap_or_default();
        diesel::update(
            payments::table
                .find(id)
                .filter(payments::version.eq(version)),
        )
        .set((
            payments::description.eq(description),
            payments::metadata.eq(metadata),
            payments::version.eq(payments::version + 1),
            payments::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Payment::as_returning())
        .get_result(conn)
        .await
        .optional()
    }
}

/// Records the payment of a checkout that was just paid, for its account's
/// history. Idempotent: one payment per order.
pub async fn record_checkout_payment(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    total: Money,
    customer_id: Option<&str>,
    email: Option<&str>,
    payment_intent_id: Option<&str>,
) -> QueryResult<Option<String>> {
    let Some(account_id) = upsert_account(conn, customer_id, email).await? else {
        return Ok(None);
    };
    let metadata = serde_json::json!({ "order_id": order_id.to_string() });
    diesel::insert_into(payments::table)
        .values((
            payments::id.eq(new_id("pay")),
            payments::account_id.eq(&account_id),
            payments::order_id.eq(order_id),
            payments::stripe_payment_intent_id.eq(payment_intent_id),
            payments::amount_minor.eq(total.minor()),
            payments::currency.eq(total.currency().code()),
            payments::status.eq(PaymentStatus::Succeeded.as_str()),
            payments::description.eq(format!("Checkout order {order_id}")),
            payments::metadata.eq(metadata),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(Some(account_id))
}

/// What a debit request asks for, as parsed: its hash tells a replay (same
/// key, same request) from a key reused for another request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DebitRequest {
    pub account_id: String,
    pub amount: Money,
    pub description: Option<String>,
}

impl DebitRequest {
    pub fn hash(&self) -> Vec<u8> {
        use sha2::Digest;
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        sha2::Sha256::digest(&canonical).to_vec()
    }
}

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
    api_key_id: i64,
    key: &str,
    request: &DebitRequest,
    lock_for: std::time::Duration,
) -> QueryResult<Option<Claim>> {
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
    .bind::<diesel::sql_types::BigInt, _>(api_key_id)
    .bind::<Text, _>(key)
    .bind::<diesel::sql_types::Integer, _>(i32::try_from(lock_for.as_secs()).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    if taken == 0 {
        return Ok(Some(Claim::InFlight));
    }
    Ok(Some(
        match Payment::find(conn, &record.payment_id).await? {
            Some(payment) => Claim::Resumed(payment),
            None => Claim::InFlight,
        },
    ))
}

/// Claims `key` for this request: inserts the key and a `processing` payment
/// in one transaction; if another request got there first, reports on it.
pub async fn insert_claim(
    conn: &mut AsyncPgConnection,
    api_key_id: i64,
    key: &str,
    request: &DebitRequest,
    customer_id: &str,
    payment_method_id: &str,
    lock_for: std::time::Duration,
) -> QueryResult<Claim> {
    use diesel_async::AsyncConnection;
    let hash = request.hash();
    let payment_id = new_id("pay");
    let inserted = conn
        .transaction(async |conn| {
            let inserted = diesel::insert_into(api_idempotency::table)
                .values((
                    api_idempotency::api_key_id.eq(api_key_id),
                    api_idempotency::key.eq(key),
                    api_idempotency::request_hash.eq(&hash),
                    api_idempotency::payment_id.eq(&payment_id),
                    api_idempotency::locked_at.eq(diesel::dsl::now),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Ok::<_, diesel::result::Error>(None);
            }
            let payment = diesel::insert_into(payments::table)
                .values((
                    payments::id.eq(&payment_id),
                    payments::account_id.eq(&request.account_id),
                    payments::stripe_customer_id.eq(customer_id),
                    payments::stripe_payment_method_id.eq(payment_method_id),
                    payments::amount_minor.eq(request.amount.minor()),
                    payments::currency.eq(request.amount.currency().code()),
                    payments::status.eq(PaymentStatus::Processing.as_str()),
                    payments::description.eq(request.description.as_deref()),
                ))
                .returning(Payment::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(payment))
        })
        .await?;
    match inserted {
        Some(payment) => Ok(Claim::Fresh(payment)),
        None => Ok(existing_claim(conn, api_key_id, key, request, lock_for)
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

/// Settles a debit still `processing` (its answer from Stripe was lost to a
/// timeout or an outage, and nobody retried) from its PaymentIntent's
/// `payment_intent.succeeded` (`succeeded`) or `payment_intent.payment_failed`
/// event (which may also come while the debit's own request is still waiting
/// for its answer: both write the same outcome, and like that request it
/// does not count as an update for `version`). A debit recorded as failed
/// without ever learning of an intent (a retry after a lost answer that
/// Stripe refused) takes the intent's word too: it is Stripe's record of
/// what happened to the money. Any other settled payment is left alone, and
/// an intent that is not a debit's (a checkout's carries no payment id) is
/// ignored. Answers the payment if it was settled.
pub async fn settle_from_event(
    conn: &mut AsyncPgConnection,
    intent: &PaymentIntent,
    succeeded: bool,
) -> QueryResult<Option<Payment>> {
    let Some(payment_id) = intent.metadata.get("payment_id") else {
        return Ok(None);
    };
    let error = intent.last_payment_error.as_ref();
    let code = error.and_then(|e| e.code.as_deref());
    let outcome = Outcome {
        status: if succeeded {
            PaymentStatus::Succeeded
        } else {
            PaymentStatus::after_decline(code)
        },
        payment_intent_id: Some(&intent.id),
        failure_code: (!succeeded).then(|| code.unwrap_or("payment_failed")),
        decline_code: error.and_then(|e| e.decline_code.as_deref()),
        failure_message: error.and_then(|e| e.message.as_deref()),
    };
    let settled = write_outcome(conn, payment_id, &outcome, true).await?;
    if settled.is_some() {
        // A debit recorded failed had that answer stored for its key: a
        // replay now answers from the payment instead.
        Statement::new(
            "UPDATE api_idempotency SET response_status = NULL, response_body = NULL, \
                 locked_at = NULL \
             WHERE payment_id = $1 AND response_status = 422",
        )
        .bind::<Text, _>(payment_id)
        .execute(conn)
        .await?;
    }
    Ok(settled)
}

/// Writes how a debit ended, unconditionally or `only_if_unsettled`
/// (processing, or failed with no intent known), and answers the payment if
/// it was written. A refund held for its PaymentIntent (the refund's event
/// came first) is applied with a success. Call inside a transaction (the
/// PaymentIntent's lock lasts until its end). Prepared once per connection:
/// diesel's update DSL is parsed and planned again on every call.
async fn write_outcome(
    conn: &mut AsyncPgConnection,
    payment_id: &str,
    outcome: &Outcome<'_>,
    only_if_unsettled: bool,
) -> QueryResult<Option<Payment>> {
    if let Some(payment_intent) = outcome.payment_intent_id {
        held_refunds::lock_payment_intent(conn, payment_intent).await?;
    }
    let written: Option<Payment> = Statement::new(
        "UPDATE payments SET status = $2, stripe_payment_intent_id = $3, failure_code = $4, \
             decline_code = $5, failure_message = $6, updated_at = now() \
         WHERE id = $1 AND (NOT $7 OR status = $8 \
             OR (status = $9 AND stripe_payment_intent_id IS NULL)) RETURNING *",
    )
    .bind::<Text, _>(payment_id)
    .bind::<Text, _>(outcome.status.as_str())
    .bind::<Nullable<Text>, _>(outcome.payment_intent_id)
    .bind::<Nullable<Text>, _>(outcome.failure_code)
    .bind::<Nullable<Text>, _>(outcome.decline_code)
    .bind::<Nullable<Text>, _>(outcome.failure_message)
    .bind::<Bool, _>(only_if_unsettled)
    .bind::<Text, _>(PaymentStatus::Processing.as_str())
    .bind::<Text, _>(PaymentStatus::Failed.as_str())
    .get_result(conn)
    .await
    .optional()?;
    if written
        .as_ref()
        .is_some_and(|p| p.status == PaymentStatus::Succeeded.as_str())
        && let Some(payment_intent) = outcome.payment_intent_id
        && let Some(refunded) = held_refunds::take(conn, payment_intent).await?
    {
        record_refund(conn, payment_intent, refunded).await?;
        return Payment::find(conn, payment_id).await;
    }
    Ok(written)
}

/// Records what Stripe has refunded of the payment its PaymentIntent made (a
/// `charge.refunded` event carries the charge's refunded total, so a replay
/// or a late, reordered delivery changes nothing). Returns whether a
/// payment changed.
pub async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    amount_refunded_minor: i64,
) -> QueryResult<bool> {
    Statement::new(
        "UPDATE payments SET amount_refunded_minor = $2, version = version + 1, updated_at = now() \
         WHERE stripe_payment_intent_id = $1 AND status = $3 \
           AND amount_refunded_minor < $2 AND $2 <= amount_minor",
    )
    .bind::<Text, _>(payment_intent_id)
    .bind::<BigInt, _>(amount_refunded_minor)
    .bind::<Text, _>(PaymentStatus::Succeeded.as_str())
    .execute(conn)
    .await
    .map(|changed| changed > 0)
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

/// How a debit ended at Stripe.
pub struct Outcome<'a> {
    pub status: PaymentStatus,
    pub payment_intent_id: Option<&'a str>,
    pub failure_code: Option<&'a str>,
    pub decline_code: Option<&'a str>,
    pub failure_message: Option<&'a str>,
}

/// Records the outcome and the answer for the key, in one transaction.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    api_key_id: i64,
    key: &str,
    payment_id: &str,
    outcome: &Outcome<'_>,
    response: impl Fn(&Payment) -> (u16, serde_json::Value) + Sync,
) -> QueryResult<(Payment, u16, serde_json::Value)> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let payment = write_outcome(conn, payment_id, outcome, false)
            .await?
            .ok_or(diesel::result::Error::NotFound)?;
        let (status, body) = response(&payment);
        store_answer(conn, api_key_id, key, status, &body).await?;
        Ok((payment, status, body))
    })
    .await
}

/// `sk_store_` and 32 random bytes in base64url: shown once, stored as SHA-256.
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "sk_store_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}
