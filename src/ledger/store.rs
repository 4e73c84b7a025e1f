//! The ledger in PostgreSQL: accounts and payments as checkout, webhooks and
//! the payments API write them. Amounts are integer minor units; ids are
//! ours (`acct_…`, `pay_…`), never Stripe's.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::{Account, Outcome, Payment, PaymentStatus};
use super::held_refunds;
use super::view::PaymentObject;
use crate::db::Statement;
use crate::db::schema::{accounts, debit_queue, payments};
use crate::events::domain::EventType;
use crate::events::store as events;
use crate::ids::{AccountId, PaymentId};
use crate::money::Money;
use crate::orders::domain::StripeTotals;

pub async fn find_account(
    conn: &mut AsyncPgConnection,
    id: &AccountId,
) -> QueryResult<Option<Account>> {
    accounts::table
        .find(id.as_str())
        .select(Account::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_payment(
    conn: &mut AsyncPgConnection,
    id: &PaymentId,
) -> QueryResult<Option<Payment>> {
    payments::table
        .find(id.as_str())
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()
}

/// The payment, its row locked for the rest of the transaction (refunds of
/// it are decided one at a time).
pub async fn lock_payment(
    conn: &mut AsyncPgConnection,
    id: &PaymentId,
) -> QueryResult<Option<Payment>> {
    payments::table
        .find(id.as_str())
        .select(Payment::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The Stripe customer whose account a paid order's payment is in.
pub async fn customer_of_order(
    conn: &mut AsyncPgConnection,
    order_id: i64,
) -> QueryResult<Option<String>> {
    payments::table
        .inner_join(accounts::table)
        .filter(payments::order_id.eq(order_id))
        .select(accounts::stripe_customer_id)
        .first::<Option<String>>(conn)
        .await
        .optional()
        .map(Option::flatten)
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
    .bind::<Text, _>(AccountId::generate().as_str().to_owned())
    .bind::<Nullable<Text>, _>(email)
    .bind::<Text, _>(customer_id)
    .get_result::<AccountIdRow>(conn)
    .await
    .map(|row| Some(row.id))
}

#[derive(QueryableByName)]
struct AccountIdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// A page of an account's history.
#[derive(Debug)]
pub enum History {
    NoSuchAccount,
    /// The cursor is not one of the account's payments.
    NoSuchCursor,
    Page {
        payments: Vec<Payment>,
        has_more: bool,
    },
}

#[derive(QueryableByName)]
struct HistoryRow {
    #[diesel(sql_type = Bool)]
    account_found: bool,
    #[diesel(sql_type = Bool)]
    cursor_found: bool,
    #[diesel(embed)]
    payment: Option<Payment>,
}

/// An account's payments, newest first, after the cursor payment (which
/// must be the account's), `limit` at most: one prepared statement.
pub async fn history(
    conn: &mut AsyncPgConnection,
    account_id: &AccountId,
    after: Option<&PaymentId>,
    limit: i64,
) -> QueryResult<History> {
    // One more than asked says whether there is a next page.
    let rows: Vec<HistoryRow> = Statement::new(include_str!("sql/history.sql"))
        .bind::<Text, _>(account_id.as_str())
        .bind::<Nullable<Text>, _>(after.map(PaymentId::as_str))
        .bind::<BigInt, _>(limit + 1)
        .load(conn)
        .await?;
    let Some(first) = rows.as_slice().first() else {
        return Ok(History::NoSuchAccount);
    };
    if !first.account_found {
        return Ok(History::NoSuchAccount);
    }
    if !first.cursor_found {
        return Ok(History::NoSuchCursor);
    }
    let mut payments: Vec<Payment> = rows.into_iter().filter_map(|row| row.payment).collect();
    let has_more = payments.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    payments.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(History::Page { payments, has_more })
}

/// Up to `limit` debits still processing that began before `cutoff`,
/// oldest first; not those a queue worker still has (`debit_queue`: it
/// asks Stripe again itself).
pub async fn processing_debits_before(
    conn: &mut AsyncPgConnection,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> QueryResult<Vec<Payment>> {
    let queued = debit_queue::table.filter(debit_queue::payment_id.eq(payments::id));
    payments::table
        .filter(payments::status.eq(PaymentStatus::Processing.as_str()))
        .filter(payments::order_id.is_null())
        .filter(payments::created_at.lt(cutoff))
        .filter(diesel::dsl::not(diesel::dsl::exists(queued)))
        .order_by((payments::created_at, payments::id))
        .limit(limit)
        .select(Payment::as_select())
        .load(conn)
        .await
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

/// Records the payment of a checkout that was just paid, for its account's
/// history: what Stripe charged, with its lines, and tells merchants
/// (`payment.succeeded`). Idempotent: one payment per order.
pub async fn record_checkout_payment(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    livemode: bool,
    charged: &StripeTotals,
    customer_id: Option<&str>,
    email: Option<&str>,
    payment_intent_id: Option<&str>,
) -> QueryResult<Option<String>> {
    let Some(account_id) = upsert_account(conn, customer_id, email).await? else {
        return Ok(None);
    };
    let metadata = serde_json::json!({ "order_id": order_id.to_string() });
    let recorded: Option<Payment> = diesel::insert_into(payments::table)
        .values((
            payments::id.eq(PaymentId::generate().as_str()),
            payments::account_id.eq(&account_id),
            payments::order_id.eq(order_id),
            payments::stripe_payment_intent_id.eq(payment_intent_id),
            payments::amount_minor.eq(charged.total.minor()),
            payments::currency.eq(charged.total.currency().code()),
            payments::amount_subtotal_minor.eq(charged.subtotal.minor()),
            payments::amount_discount_minor.eq(charged.discount.minor()),
            payments::amount_shipping_minor.eq(charged.shipping.minor()),
            payments::amount_tax_minor.eq(charged.tax.minor()),
            payments::status.eq(PaymentStatus::Succeeded.as_str()),
            payments::description.eq(format!("Checkout order {order_id}")),
            payments::metadata.eq(metadata),
            payments::livemode.eq(livemode),
        ))
        .on_conflict_do_nothing()
        .returning(Payment::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if let Some(payment) = &recorded {
        tell_merchants(conn, payment, EventType::PaymentSucceeded).await?;
    }
    Ok(Some(account_id))
}

/// A debit about to be sent to Stripe (`processing`) or queued for it
/// (`queued`), as the payments API records it first.
pub struct NewDebit<'a> {
    pub status: PaymentStatus,
    pub id: &'a PaymentId,
    pub account_id: &'a str,
    pub customer_id: &'a str,
    pub payment_method_id: &'a str,
    pub amount: Money,
    pub description: Option<&'a str>,
    pub livemode: bool,
}

/// Records a new debit (call inside the transaction that claims its
/// idempotency key).
pub async fn insert_debit(
    conn: &mut AsyncPgConnection,
    debit: &NewDebit<'_>,
) -> QueryResult<Payment> {
    diesel::insert_into(payments::table)
        .values((
            payments::id.eq(debit.id.as_str()),
            payments::account_id.eq(debit.account_id),
            payments::stripe_customer_id.eq(debit.customer_id),
            payments::stripe_payment_method_id.eq(debit.payment_method_id),
            payments::amount_minor.eq(debit.amount.minor()),
            payments::currency.eq(debit.amount.currency().code()),
            payments::status.eq(debit.status.as_str()),
            payments::description.eq(debit.description),
            payments::livemode.eq(debit.livemode),
        ))
        .returning(Payment::as_returning())
        .get_result(conn)
        .await
}

/// Writes how a debit ended, unconditionally or `only_if_unsettled`
/// (processing, or failed with no intent known), and answers the payment if
/// it was written. A refund held for its PaymentIntent (the refund's event
/// came first) is applied with a success. Call inside a transaction (the
/// PaymentIntent's lock lasts until its end). Prepared once per connection:
/// diesel's update DSL is parsed and planned again on every call.
pub async fn write_outcome(
    conn: &mut AsyncPgConnection,
    payment_id: &str,
    outcome: &Outcome<'_>,
    only_if_unsettled: bool,
) -> QueryResult<Option<Payment>> {
    if let Some(payment_intent) = outcome.payment_intent_id {
        held_refunds::lock_payment_intent(conn, payment_intent).await?;
    }
    let written: Option<Written> = Statement::new(
        "UPDATE payments p SET status = $2, stripe_payment_intent_id = $3, failure_code = $4, \
             decline_code = $5, failure_message = $6, updated_at = now() \
         FROM (SELECT id, status AS previous_status FROM payments WHERE id = $1 FOR UPDATE) old \
         WHERE p.id = old.id AND (NOT $7 OR p.status = $8 \
             OR (p.status = $9 AND p.stripe_payment_intent_id IS NULL)) \
         RETURNING p.*, old.previous_status",
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
    let Some(Written {
        payment: written,
        previous_status,
    }) = written
    else {
        return Ok(None);
    };
    if written.status != previous_status
        && let Some(kind) = EventType::of_payment_status(written.status)
    {
        tell_merchants(conn, &written, kind).await?;
    }
    if written.status == PaymentStatus::Succeeded
        && let Some(payment_intent) = outcome.payment_intent_id
        && let Some(refunded) = held_refunds::take(conn, payment_intent).await?
    {
        record_refund(conn, payment_intent, refunded).await?;
        return payments::table
            .find(payment_id)
            .select(Payment::as_select())
            .first(conn)
            .await
            .optional();
    }
    Ok(Some(written))
}

#[derive(QueryableByName)]
struct Written {
    #[diesel(embed)]
    payment: Payment,
    #[diesel(sql_type = Text)]
    previous_status: PaymentStatus,
}

/// Records an event about the payment, as it is now, for merchants'
/// endpoints (in the caller's transaction).
async fn tell_merchants(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    kind: EventType,
) -> QueryResult<()> {
    let object = serde_json::to_value(PaymentObject::from_payment(payment))
        .map_err(|error| diesel::result::Error::SerializationError(error.into()))?;
    events::enqueue(conn, kind, &object, payment.livemode).await?;
    Ok(())
}

/// Takes a refund that failed after Stripe counted it off the payment's
/// refunded total (see `orders::store::withdraw_refund`). Returns whether a
/// payment changed.
pub async fn withdraw_refund(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    amount_minor: i64,
) -> QueryResult<bool> {
    Statement::new(
        "UPDATE payments SET amount_refunded_minor = amount_refunded_minor - $2, \
             version = version + 1, updated_at = now() \
         WHERE stripe_payment_intent_id = $1 AND status = $3 AND amount_refunded_minor >= $2",
    )
    .bind::<Text, _>(payment_intent_id)
    .bind::<BigInt, _>(amount_minor)
    .bind::<Text, _>(PaymentStatus::Succeeded.as_str())
    .execute(conn)
    .await
    .map(|changed| changed > 0)
}

/// Records what Stripe has refunded of the payment its PaymentIntent made (a
/// `charge.refunded` event carries the charge's refunded total, so a replay
/// or a late, reordered delivery changes nothing), and tells merchants
/// (`payment.refunded`). Returns whether a payment changed.
pub async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    amount_refunded_minor: i64,
) -> QueryResult<bool> {
    let changed: Option<Payment> = Statement::new(
        "UPDATE payments SET amount_refunded_minor = $2, version = version + 1, updated_at = now() \
         WHERE stripe_payment_intent_id = $1 AND status = $3 \
           AND amount_refunded_minor < $2 AND $2 <= amount_minor RETURNING *",
    )
    .bind::<Text, _>(payment_intent_id)
    .bind::<BigInt, _>(amount_refunded_minor)
    .bind::<Text, _>(PaymentStatus::Succeeded.as_str())
    .get_result(conn)
    .await
    .optional()?;
    match changed {
        Some(payment) => {
            tell_merchants(conn, &payment, EventType::PaymentRefunded).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}
