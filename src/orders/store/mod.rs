//! Order queries (here), creation with stock reserved (`create`), and
//! transitions (`transitions`).

mod create;
mod transitions;

pub use create::{CreateOrderError, NewOrder, PendingOrder, create_pending};
pub use transitions::{
    Completion, PaidWith, attach_session, cancel_without_session, close_unpaid, mark_paid,
    record_completion, record_refund, withdraw_refund,
};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::domain::{
    CheckoutSummary, IssueKind, Order, OrderCheckout, OrderItem, OrderStatus, ShippingOption,
};
use crate::db::Statement;
use crate::db::schema::{
    order_checkouts, order_issues, order_items, order_shipping_options, orders,
};
use crate::ids::OrderToken;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<Text>) -> diesel::sql_types::Nullable<Text>);

pub async fn find_by_token(
    conn: &mut AsyncPgConnection,
    token: &OrderToken,
) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::token.eq(token.as_str()))
        .select(Order::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_id(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Order>> {
    orders::table
        .find(id)
        .select(Order::as_select())
        .first(conn)
        .await
        .optional()
}

/// The order, its row locked for the rest of the transaction: refunds of it
/// (staff's, and the payments API's of its payment) are decided one at a
/// time.
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Order>> {
    orders::table
        .find(id)
        .select(Order::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_payment_intent(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::stripe_payment_intent_id.eq(payment_intent_id))
        .select(Order::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_session(
    conn: &mut AsyncPgConnection,
    session_id: &str,
) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::stripe_session_id.eq(session_id))
        .select(Order::as_select())
        .first(conn)
        .await
        .optional()
}

/// The browser's checkouts waiting for payment (not those whose payment
/// was submitted and is settling: they are no payment page any more).
pub async fn pending_for_browser(
    conn: &mut AsyncPgConnection,
    browser_id: Uuid,
) -> QueryResult<Vec<Order>> {
    orders::table
        .filter(orders::browser_id.eq(browser_id))
        .filter(orders::status.eq(OrderStatus::Pending.as_str()))
        .filter(orders::completed_at.is_null())
        .order_by(orders::id)
        .select(Order::as_select())
        .load(conn)
        .await
}

/// Whether Stripe may be asked about this pending order now: at most once
/// `every` per order, across nodes, however often its return page is
/// loaded or the reconciler runs. Notes the time when it may.
pub async fn may_ask_stripe(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    every: std::time::Duration,
) -> QueryResult<bool> {
    Statement::new(
        "UPDATE orders SET stripe_checked_at = now() \
         WHERE id = $1 AND status = $2 \
           AND (stripe_checked_at IS NULL \
                OR stripe_checked_at < now() - $3 * interval '1 millisecond')",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<Text, _>(OrderStatus::Pending.as_str())
    .bind::<BigInt, _>(i64::try_from(every.as_millis()).unwrap_or(i64::MAX))
    .execute(conn)
    .await
    .map(|updated| updated > 0)
}

/// The newest orders placed from this browser.
pub async fn list_for_browser(
    conn: &mut AsyncPgConnection,
    browser_id: Uuid,
) -> QueryResult<Vec<Order>> {
    orders::table
        .filter(orders::browser_id.eq(browser_id))
        .order_by((orders::created_at.desc(), orders::id.desc()))
        .limit(100)
        .select(Order::as_select())
        .load(conn)
        .await
}

/// The newest orders paid with this email address (matched whatever its
/// case; `normalized` is lowercase), for a link sent to that address.
pub async fn list_paid_for_email(
    conn: &mut AsyncPgConnection,
    normalized: &str,
) -> QueryResult<Vec<Order>> {
    orders::table
        .filter(lower(orders::email).eq(normalized))
        .filter(orders::paid_at.is_not_null())
        .order_by((orders::paid_at.desc(), orders::id.desc()))
        .limit(100)
        .select(Order::as_select())
        .load(conn)
        .await
}

/// Whether any order was paid with this email address (`normalized`: lowercase).
pub async fn any_paid_for_email(
    conn: &mut AsyncPgConnection,
    normalized: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        orders::table
            .filter(lower(orders::email).eq(normalized))
            .filter(orders::paid_at.is_not_null()),
    ))
    .get_result(conn)
    .await
}

/// Up to `limit` pending orders created before `cutoff`, oldest first,
/// after the order `after` (created at, id): the reconciler's work, a
/// page at a time.
pub async fn pending_before(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<Order>> {
    let mut query = orders::table
        .filter(orders::status.eq(OrderStatus::Pending.as_str()))
        .filter(orders::created_at.lt(cutoff))
        .order_by((orders::created_at, orders::id))
        .limit(limit)
        .select(Order::as_select())
        .into_boxed();
    if let Some((created_at, id)) = after {
        query = query.filter(
            orders::created_at
                .gt(created_at)
                .or(orders::created_at.eq(created_at).and(orders::id.gt(id))),
        );
    }
    query.load(conn).await
}

pub async fn items(conn: &mut AsyncPgConnection, order: &Order) -> QueryResult<Vec<OrderItem>> {
    order_items::table
        .filter(order_items::order_id.eq(order.id))
        .order_by(order_items::id)
        .select(OrderItem::as_select())
        .load(conn)
        .await
}

/// The shipping options the order offered, in their order (none if nothing
/// in it ships).
pub async fn shipping_options(
    conn: &mut AsyncPgConnection,
    order: &Order,
) -> QueryResult<Vec<ShippingOption>> {
    order_shipping_options::table
        .filter(order_shipping_options::order_id.eq(order.id))
        .order_by(order_shipping_options::position)
        .select(ShippingOption::as_select())
        .load(conn)
        .await
}

/// What Stripe reported when the order's page was completed, if it was.
pub async fn checkout(
    conn: &mut AsyncPgConnection,
    order: &Order,
) -> QueryResult<Option<OrderCheckout>> {
    order_checkouts::table
        .find(order.id)
        .select(OrderCheckout::as_select())
        .first(conn)
        .await
        .optional()
}

/// What Stripe reported for the order's completed page, with the shipping
/// option chosen.
pub async fn checkout_summary(
    conn: &mut AsyncPgConnection,
    order: &Order,
) -> QueryResult<CheckoutSummary> {
    let recorded = checkout(conn, order).await?;
    let chosen = shipping_options(conn, order)
        .await?
        .into_iter()
        .find(|option| option.chosen);
    Ok(CheckoutSummary::new(order, recorded, chosen))
}

/// What Stripe reported for those of `orders` that were completed, by order id.
pub async fn checkouts_of(
    conn: &mut AsyncPgConnection,
    orders: &[Order],
) -> QueryResult<Vec<(i64, OrderCheckout)>> {
    let ids: Vec<i64> = orders.iter().map(|order| order.id).collect();
    order_checkouts::table
        .filter(order_checkouts::order_id.eq_any(ids))
        .select((order_checkouts::order_id, OrderCheckout::as_select()))
        .load(conn)
        .await
}

/// Records that the order needs a person, with what Stripe reported; a
/// second report of the same open issue (a redelivered event) adds nothing.
/// Returns whether it was new.
pub async fn record_issue(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    kind: IssueKind,
    details: &serde_json::Value,
) -> QueryResult<bool> {
    diesel::insert_into(order_issues::table)
        .values((
            order_issues::order_id.eq(order_id),
            order_issues::kind.eq(kind.as_str()),
            order_issues::details.eq(details),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|inserted| inserted > 0)
}

/// Whether the order has an issue nobody has resolved yet.
pub async fn has_open_issue(conn: &mut AsyncPgConnection, order_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        order_issues::table
            .filter(order_issues::order_id.eq(order_id))
            .filter(order_issues::resolved_at.is_null()),
    ))
    .get_result(conn)
    .await
}
