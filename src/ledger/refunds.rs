//! The `refunds` table, one row per refund of a PaymentIntent whoever asked
//! for it (staff on an order, a merchant's system through the payments API,
//! or anyone in Stripe's dashboard). A refund is saved before Stripe is
//! called; Stripe's answers and events move its status forward only.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::{Refund, RefundReason, RefundStatus};
use crate::db::Statement;
use crate::db::schema::{orders, payments, refunds};
use crate::ids::RefundId;
use crate::money::Money;

/// What the PaymentIntent's refunds hold: those asked for, pending or made.
pub async fn held(conn: &mut AsyncPgConnection, payment_intent_id: &str) -> QueryResult<i64> {
    total(conn, payment_intent_id, &RefundStatus::holding()).await
}

/// What Stripe has taken of the PaymentIntent's refunds, as far as we know.
pub async fn succeeded(conn: &mut AsyncPgConnection, payment_intent_id: &str) -> QueryResult<i64> {
    total(conn, payment_intent_id, &[RefundStatus::Succeeded]).await
}

/// The sum of the PaymentIntent's refunds in `statuses`.
async fn total(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    statuses: &[RefundStatus],
) -> QueryResult<i64> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    refunds::table
        .filter(refunds::payment_intent_id.eq(payment_intent_id))
        .filter(refunds::status.eq_any(statuses))
        .select(diesel::dsl::sql::<BigInt>(
            "COALESCE(sum(amount_minor), 0)::bigint",
        ))
        .get_result(conn)
        .await
}

/// A refund asked for through the payments API, `requested` until Stripe
/// answers (call in the transaction that claims its idempotency key).
pub async fn insert_from_api(
    conn: &mut AsyncPgConnection,
    id: &RefundId,
    payment_intent_id: &str,
    order_id: Option<i64>,
    amount: Money,
    reason: Option<RefundReason>,
) -> QueryResult<Refund> {
    diesel::insert_into(refunds::table)
        .values((
            refunds::public_id.eq(id.as_str()),
            refunds::payment_intent_id.eq(payment_intent_id),
            refunds::order_id.eq(order_id),
            refunds::amount_minor.eq(amount.minor()),
            refunds::reason.eq(reason.map(RefundReason::as_str)),
            refunds::status.eq(RefundStatus::Requested.as_str()),
            refunds::source.eq("api"),
        ))
        .returning(Refund::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Refund>> {
    refunds::table
        .find(id)
        .select(Refund::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_public(
    conn: &mut AsyncPgConnection,
    id: &RefundId,
) -> QueryResult<Option<Refund>> {
    refunds::table
        .filter(refunds::public_id.eq(id.as_str()))
        .select(Refund::as_select())
        .first(conn)
        .await
        .optional()
}

/// A page of the PaymentIntent's refunds, newest first, after `after`;
/// and whether more follow.
pub async fn of_payment_intent(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    after: Option<&Refund>,
    limit: i64,
) -> QueryResult<(Vec<Refund>, bool)> {
    let mut query = refunds::table
        .filter(refunds::payment_intent_id.eq(payment_intent_id))
        .select(Refund::as_select())
        .order_by(refunds::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(refunds::id.lt(after.id));
    }
    let mut rows: Vec<Refund> = query.load(conn).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, has_more))
}

#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = Text)]
    previous: String,
}

/// Records what Stripe says of a refund: its id, and its status if that is
/// further along than the one recorded (answers and events come in any
/// order). Returns the status it had before, if it moved.
pub async fn record_status(
    conn: &mut AsyncPgConnection,
    id: i64,
    status: RefundStatus,
    stripe_refund_id: Option<&str>,
    failure_reason: Option<&str>,
) -> QueryResult<Option<RefundStatus>> {
    if let Some(stripe_refund_id) = stripe_refund_id {
        Statement::new(
            "UPDATE refunds SET stripe_refund_id = $2 WHERE id = $1 AND stripe_refund_id IS NULL",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(stripe_refund_id)
        .execute(conn)
        .await?;
    }
    let moved: Option<Moved> = Statement::new(include_str!("sql/record_refund_status.sql"))
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(status.as_str())
        .bind::<Nullable<Text>, _>(failure_reason)
        .bind::<Integer, _>(i32::from(status.rank()))
        .get_result(conn)
        .await
        .optional()?;
    Ok(moved.and_then(|m| RefundStatus::parse(&m.previous)))
}

/// Our refund that a Stripe refund is: by Stripe's id, or by ours in its
/// metadata (its event may come before we recorded Stripe's answer).
pub async fn find_for_stripe(
    conn: &mut AsyncPgConnection,
    stripe_refund_id: &str,
    storefront_id: Option<i64>,
) -> QueryResult<Option<Refund>> {
    let mut query = refunds::table
        .select(Refund::as_select())
        .filter(refunds::stripe_refund_id.eq(stripe_refund_id))
        .into_boxed();
    if let Some(id) = storefront_id {
        query = query.or_filter(refunds::id.eq(id));
    }
    query.first(conn).await.optional()
}

/// A refund made at Stripe (its dashboard), recorded if its PaymentIntent
/// paid one of our orders or payments. Returns its order's id, if any, and
/// whether it was recorded now (not before).
pub async fn insert_from_stripe(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    stripe_refund_id: &str,
    amount_minor: i64,
    status: RefundStatus,
    failure_reason: Option<&str>,
) -> QueryResult<Option<Option<i64>>> {
    let order_id = orders::table
        .filter(orders::stripe_payment_intent_id.eq(payment_intent_id))
        .select(orders::id)
        .first::<i64>(conn)
        .await
        .optional()?;
    if order_id.is_none() {
        let ours = payments::table
            .filter(payments::stripe_payment_intent_id.eq(payment_intent_id))
            .select(payments::id)
            .first::<String>(conn)
            .await
            .optional()?;
        if ours.is_none() {
            return Ok(None);
        }
    }
    let inserted = diesel::insert_into(refunds::table)
        .values((
            refunds::order_id.eq(order_id),
            refunds::payment_intent_id.eq(payment_intent_id),
            refunds::amount_minor.eq(amount_minor),
            refunds::status.eq(status.as_str()),
            refunds::stripe_refund_id.eq(stripe_refund_id),
            refunds::failure_reason.eq(failure_reason),
            refunds::source.eq("stripe"),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok((inserted > 0).then_some(order_id))
}
