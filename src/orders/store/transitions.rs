//! Order transitions. Each is conditional on the status it leaves, so that
//! any number of concurrent callers (webhooks, return pages, the
//! reconciler, on any node) apply it once, and records its event in the
//! same transaction.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, SmallInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::Statement;
use crate::db::schema::order_events;
use crate::mail::domain::Message;
use crate::mail::store as outbox;
use crate::orders::domain::{OrderStatus, ShippingAddress, Source, StripeTotals};

/// How an order was paid, as Stripe reports it.
#[derive(Debug, Clone, Copy)]
pub struct PaidWith<'a> {
    pub payment_intent_id: Option<&'a str>,
    /// The email the shopper paid with.
    pub email: Option<&'a str>,
    /// Stripe's live mode (real money), or test mode.
    pub livemode: bool,
}

/// The event of a refund, full or partial.
const REFUNDED: &str = "refunded";

/// Records the order's Checkout Session; false if the order is no longer
/// pending (the reconciler gave up on a checkout whose Stripe call ran past
/// its limit), and then nobody must pay that session.
pub async fn attach_session(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    session_id: &str,
    checkout_url: Option<&str>,
) -> QueryResult<bool> {
    // Prepared once per connection: diesel's update DSL was parsed again
    // on every checkout.
    Statement::new(
        "UPDATE orders SET stripe_session_id = $2, checkout_url = $3, updated_at = now() \
         WHERE id = $1 AND status = $4",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<Text, _>(session_id)
    .bind::<Nullable<Text>, _>(checkout_url)
    .bind::<Text, _>(OrderStatus::Pending.as_str())
    .execute(conn)
    .await
    .map(|attached| attached > 0)
}

/// What Stripe reported when the shopper completed the payment page.
#[derive(Debug, Clone, Copy)]
pub struct Completion<'a> {
    pub totals: StripeTotals,
    /// The code the shopper redeemed, as the merchant created it.
    pub promotion_code: Option<&'a str>,
    /// Where it ships, if it does.
    pub ship_to: Option<&'a ShippingAddress>,
    /// The chosen shipping option's place among those offered.
    pub shipping_option: Option<i16>,
}

/// Records what Stripe reported when the shopper completed a pending
/// order's page: its figures, where it ships, the option chosen and the
/// promotion code; its payment page is gone, and the first time, what it
/// bought leaves its cart (a payment that settles later is on its way: the
/// shopper must not buy it again meanwhile). A completed session's figures
/// do not change, so repeats write the same. Returns whether the order was
/// pending.
pub async fn record_completion(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    completion: &Completion<'_>,
) -> QueryResult<bool> {
    let totals = completion.totals;
    let empty = ShippingAddress::default();
    let to = completion.ship_to.unwrap_or(&empty);
    let position = completion.shipping_option;
    conn.transaction(async |conn| {
        let recorded: Option<Completed> = Statement::new(RECORD_COMPLETION)
            .bind::<BigInt, _>(order_id)
            .bind::<Text, _>(OrderStatus::Pending.as_str())
            .bind::<BigInt, _>(totals.total.minor())
            .bind::<BigInt, _>(totals.subtotal.minor())
            .bind::<BigInt, _>(totals.discount.minor())
            .bind::<BigInt, _>(totals.shipping.minor())
            .bind::<BigInt, _>(totals.tax.minor())
            .bind::<Nullable<Text>, _>(completion.promotion_code)
            .bind::<Nullable<Text>, _>(to.name.as_deref())
            .bind::<Nullable<Text>, _>(to.line1.as_deref())
            .bind::<Nullable<Text>, _>(to.line2.as_deref())
            .bind::<Nullable<Text>, _>(to.city.as_deref())
            .bind::<Nullable<Text>, _>(to.state.as_deref())
            .bind::<Nullable<Text>, _>(to.postal_code.as_deref())
            .bind::<Nullable<Text>, _>(to.country.as_deref())
            .bind::<Nullable<SmallInt>, _>(position)
            .get_result(conn)
            .await
            .optional()?;
        match recorded {
            Some(Completed {
                cart_id: Some(cart_id),
                first_time: true,
                id,
            }) => {
                take_paid_from_cart(conn, cart_id, id).await?;
                Ok(true)
            }
            Some(_) => Ok(true),
            None => Ok(false),
        }
    })
    .await
}

/// An order just completed: its cart, and whether this was the first report.
#[derive(QueryableByName)]
struct Completed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    cart_id: Option<Uuid>,
    #[diesel(sql_type = Bool)]
    first_time: bool,
}

/// The order completed, its figures and address, and the option chosen, in
/// one statement (see `record_completion`).
const RECORD_COMPLETION: &str = include_str!("sql/record_completion.sql");

/// pending → paid, at most once: the conditional update lets exactly one of
/// any number of concurrent callers through, and only that one records the
/// `paid` event and queues the order's confirmation email. (What it bought
/// left its cart when it completed: see `record_completion`, which comes
/// first.) Returns whether this call did the transition.
pub async fn mark_paid(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    payment: &PaidWith<'_>,
    source: Source,
) -> QueryResult<bool> {
    conn.transaction(async |conn| {
        // Prepared once per connection (diesel's update DSL is parsed and
        // planned again on every call).
        let paid = Statement::new(
            "UPDATE orders SET status = $2, paid_at = now(), stripe_payment_intent_id = $4, \
                 email = $5, livemode = $6, checkout_url = NULL, updated_at = now() \
             WHERE id = $1 AND status = $3",
        )
        .bind::<BigInt, _>(order_id)
        .bind::<Text, _>(OrderStatus::Paid.as_str())
        .bind::<Text, _>(OrderStatus::Pending.as_str())
        .bind::<Nullable<Text>, _>(payment.payment_intent_id)
        .bind::<Nullable<Text>, _>(payment.email)
        .bind::<Bool, _>(payment.livemode)
        .execute(conn)
        .await?;
        if paid == 0 {
            return Ok(false);
        }
        record_event(conn, order_id, OrderStatus::Paid.as_str(), source).await?;
        outbox::enqueue(
            conn,
            Some(order_id),
            payment.email,
            &Message::OrderConfirmation,
        )
        .await?;
        Ok(true)
    })
    .await
}

/// Takes what the order bought out of its cart: a line the shopper raised
/// after checking out (in another tab) keeps the units not bought; a line
/// with nothing left goes.
async fn take_paid_from_cart(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    order_id: i64,
) -> QueryResult<()> {
    Statement::new(
        "DELETE FROM cart_items c USING order_items o \
         WHERE c.cart_id = $1 AND o.order_id = $2 AND c.product_id = o.product_id \
           AND c.quantity <= o.quantity",
    )
    .bind::<SqlUuid, _>(cart_id)
    .bind::<BigInt, _>(order_id)
    .execute(conn)
    .await?;
    Statement::new(
        "UPDATE cart_items c SET quantity = c.quantity - o.quantity, updated_at = now() \
         FROM order_items o \
         WHERE c.cart_id = $1 AND o.order_id = $2 AND c.product_id = o.product_id",
    )
    .bind::<SqlUuid, _>(cart_id)
    .bind::<BigInt, _>(order_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// pending → expired, cancelled or failed, at most once, returning the
/// reserved stock. Returns whether this call did the transition.
pub async fn close_unpaid(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    status: OrderStatus,
    source: Source,
) -> QueryResult<bool> {
    close(conn, order_id, status, source, false).await
}

/// Cancels a pending order that never got its Checkout Session (its checkout
/// died before Stripe answered); false if it has one by now.
pub async fn cancel_without_session(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    source: Source,
) -> QueryResult<bool> {
    close(conn, order_id, OrderStatus::Cancelled, source, true).await
}

async fn close(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    status: OrderStatus,
    source: Source,
    only_without_session: bool,
) -> QueryResult<bool> {
    debug_assert!(matches!(
        status,
        OrderStatus::Expired | OrderStatus::Cancelled | OrderStatus::Failed
    ));
    conn.transaction(async |conn| {
        let closed = Statement::new(
            "UPDATE orders SET status = $2, checkout_url = NULL, updated_at = now() \
             WHERE id = $1 AND status = $3 AND (NOT $4 OR stripe_session_id IS NULL)",
        )
        .bind::<BigInt, _>(order_id)
        .bind::<Text, _>(status.as_str())
        .bind::<Text, _>(OrderStatus::Pending.as_str())
        .bind::<Bool, _>(only_without_session)
        .execute(conn)
        .await?;
        if closed == 0 {
            return Ok(false);
        }
        // Product rows are locked in id order, as a new order's reservation
        // locks them: two orders sharing products cannot deadlock.
        Statement::new(
            "SELECT 1 FROM products p JOIN order_items oi ON p.id = oi.product_id \
             WHERE oi.order_id = $1 AND p.stock IS NOT NULL ORDER BY p.id FOR UPDATE OF p",
        )
        .bind::<BigInt, _>(order_id)
        .execute(conn)
        .await?;
        Statement::new(
            "UPDATE products p SET stock = p.stock + oi.quantity, updated_at = now() \
             FROM order_items oi WHERE oi.order_id = $1 AND p.id = oi.product_id AND p.stock IS NOT NULL",
        )
        .bind::<BigInt, _>(order_id)
        .execute(conn)
        .await?;
        record_event(conn, order_id, status.as_str(), source).await?;
        Ok(true)
    })
    .await
}

/// Records the charge's cumulative refunded amount (of what was charged,
/// shipping and tax included). Refund events may arrive out of order, so
/// only a larger amount than recorded is applied; each change records a
/// `refunded` event and queues a refund notice for what it added (a partial
/// then a full refund: two notices; a redelivered event: none).
pub async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    amount_refunded_minor: i64,
    source: Source,
) -> QueryResult<bool> {
    conn.transaction(async |conn| {
        let refunded: Option<Refunded> = Statement::new(
            "WITH before AS (SELECT id, amount_refunded_minor FROM orders \
                             WHERE stripe_payment_intent_id = $1 FOR UPDATE) \
             UPDATE orders o SET amount_refunded_minor = $2, \
                 status = CASE WHEN $2 >= COALESCE(o.amount_charged_minor, o.amount_total_minor) \
                     THEN $3 ELSE $4 END, \
                 updated_at = now() \
             FROM before \
             WHERE o.id = before.id AND o.status IN ($5, $4) \
               AND o.amount_refunded_minor < $2 \
               AND $2 <= COALESCE(o.amount_charged_minor, o.amount_total_minor) \
             RETURNING o.id, o.email, before.amount_refunded_minor AS refunded_before",
        )
        .bind::<Text, _>(payment_intent_id)
        .bind::<BigInt, _>(amount_refunded_minor)
        .bind::<Text, _>(OrderStatus::Refunded.as_str())
        .bind::<Text, _>(OrderStatus::PartiallyRefunded.as_str())
        .bind::<Text, _>(OrderStatus::Paid.as_str())
        .get_result(conn)
        .await
        .optional()?;
        let Some(refunded) = refunded else {
            return Ok(false);
        };
        record_event(conn, refunded.id, REFUNDED, source).await?;
        let notice = Message::RefundNotice {
            refunded_minor: amount_refunded_minor - refunded.refunded_before,
            total_refunded_minor: amount_refunded_minor,
        };
        outbox::enqueue(conn, Some(refunded.id), refunded.email.as_deref(), &notice).await?;
        Ok(true)
    })
    .await
}

/// Takes a refund that failed after Stripe counted it (a closed card sends
/// the money back days later) off the order's refunded amount: Stripe lowers
/// the charge's refunded total without a new `charge.refunded`. Returns
/// whether an order changed.
pub async fn withdraw_refund(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    amount_minor: i64,
) -> QueryResult<bool> {
    Statement::new(
        "UPDATE orders SET amount_refunded_minor = amount_refunded_minor - $2, \
             status = CASE WHEN amount_refunded_minor = $2 THEN $3 ELSE $4 END, \
             updated_at = now() \
         WHERE stripe_payment_intent_id = $1 AND status IN ($5, $4) \
           AND amount_refunded_minor >= $2",
    )
    .bind::<Text, _>(payment_intent_id)
    .bind::<BigInt, _>(amount_minor)
    .bind::<Text, _>(OrderStatus::Paid.as_str())
    .bind::<Text, _>(OrderStatus::PartiallyRefunded.as_str())
    .bind::<Text, _>(OrderStatus::Refunded.as_str())
    .execute(conn)
    .await
    .map(|changed| changed > 0)
}

#[derive(QueryableByName)]
struct Refunded {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = BigInt)]
    refunded_before: i64,
}

pub(super) async fn record_event(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    kind: &str,
    source: Source,
) -> QueryResult<usize> {
    diesel::insert_into(order_events::table)
        .values((
            order_events::order_id.eq(order_id),
            order_events::kind.eq(kind),
            order_events::source.eq(source.to_string()),
        ))
        .execute(conn)
        .await
}
