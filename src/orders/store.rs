//! Order queries and transitions. Every transition is conditional on the
//! status it leaves, so that any number of concurrent callers (webhooks,
//! return pages, the reconciler, on any node) apply it once, and it records
//! its event in the same transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::domain::{IssueKind, Order, OrderItem, OrderLine, OrderStatus, Source};
use crate::db::Statement;
use crate::db::schema::{order_events, order_issues, order_items, orders, products};
use crate::ids::{OrderNumber, OrderToken};
use crate::money::{Currency, Money, MoneyError};

#[derive(Debug, thiserror::Error)]
pub enum CreateOrderError {
    #[error("nothing to order")]
    Empty,
    #[error("{0} is no longer available")]
    Unavailable(String),
    #[error("not enough stock of {name}")]
    OutOfStock { name: String, available: i32 },
    /// Less than Stripe will charge.
    #[error("below the minimum charge of {0}")]
    BelowMinimum(Money),
    /// More than Stripe will charge in one payment.
    #[error("above the maximum charge of {0}")]
    AboveMaximum(Money),
    /// The browser started another checkout at the same moment.
    #[error("another checkout of this browser is starting")]
    CheckoutInProgress,
    /// The client address already holds this many pending checkouts.
    #[error("{0} checkouts are already waiting for payment from this address")]
    TooManyPending(u32),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

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

/// The browser's checkouts waiting for payment.
pub async fn pending_for_browser(
    conn: &mut AsyncPgConnection,
    browser_id: Uuid,
) -> QueryResult<Vec<Order>> {
    orders::table
        .filter(orders::browser_id.eq(browser_id))
        .filter(orders::status.eq(OrderStatus::Pending.as_str()))
        .order_by(orders::id)
        .select(Order::as_select())
        .load(conn)
        .await
}

/// Whether Stripe may be asked about this pending order now: at most once
/// every few seconds per order, across nodes, however often its return
/// page is loaded. Notes the time when it may.
pub async fn may_ask_stripe(conn: &mut AsyncPgConnection, order_id: i64) -> QueryResult<bool> {
    Statement::new(
        "UPDATE orders SET stripe_checked_at = now() \
         WHERE id = $1 AND status = $2 \
           AND (stripe_checked_at IS NULL OR stripe_checked_at < now() - interval '3 seconds')",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<Text, _>(OrderStatus::Pending.as_str())
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

/// Reserves a line's stock if enough is left (see `create_pending`).
const RESERVE_LINE: &str = include_str!("sql/reserve_line.sql");
/// The order, its items and its first event in one round trip.
const CREATE_ORDER: &str = include_str!("sql/create_order.sql");
/// The event that starts every order's history (`order_events.kind`).
const CREATED: &str = "created";
/// The event of a refund, full or partial.
const REFUNDED: &str = "refunded";

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    price_minor: i64,
    #[diesel(sql_type = Text)]
    currency: String,
}

/// A new order's row as the database made it.
#[derive(QueryableByName)]
struct Created {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    created_at: DateTime<Utc>,
}

/// Creates a pending order and reserves its stock in one transaction. The
/// conditional decrement (`stock >= quantity`) makes overselling impossible
/// however many checkouts race for the last units.
pub async fn create_pending(
    conn: &mut AsyncPgConnection,
    order: &NewOrder<'_>,
) -> Result<(Order, Vec<OrderItem>), CreateOrderError> {
    if order.lines.is_empty() {
        return Err(CreateOrderError::Empty);
    }
    let mut lines = order.lines.to_vec();
    // A fixed lock order keeps concurrent checkouts of overlapping carts from deadlocking.
    lines.sort_by_key(|l| l.product_id);
    // A random public number may be taken: draw another (one in a trillion
    // per thousand orders, so a third draw is never needed in practice).
    let mut draws = 0;
    loop {
        let number = OrderNumber::generate();
        match create(conn, order, &lines, &number).await {
            Err(CreateOrderError::Database(error)) if is_number_taken(&error) && draws < 3 => {
                draws += 1;
            }
            result => return result,
        }
    }
}

/// A checkout to create: what to buy, for whom, from where.
#[derive(Debug, Clone, Copy)]
pub struct NewOrder<'a> {
    pub browser_id: Uuid,
    /// The cart it comes from (emptied of what is paid), or none for Buy now.
    pub cart_id: Option<Uuid>,
    pub lines: &'a [OrderLine],
    pub livemode: bool,
    pub save_card: bool,
    /// The client address (`rate_limit`'s key), if known.
    pub client_key: Option<&'a str>,
    /// Most pending checkouts one client address may hold; 0 for no cap.
    pub pending_per_client: u32,
}

/// A browser has at most one live checkout, and a client address at most
/// `pending_per_client`: checked under locks on both (taken in this order
/// by every checkout), so that concurrent checkouts cannot both pass.
async fn hold_checkout_slot(
    conn: &mut AsyncPgConnection,
    order: &NewOrder<'_>,
) -> Result<(), CreateOrderError> {
    if let Some(client) = order.client_key.filter(|_| order.pending_per_client > 0) {
        Statement::new("SELECT pg_advisory_xact_lock(hashtextextended('client ' || $1, 0))")
            .bind::<Text, _>(client)
            .execute(conn)
            .await?;
        let pending: i64 = orders::table
            .filter(orders::client_key.eq(client))
            .filter(orders::status.eq(OrderStatus::Pending.as_str()))
            .count()
            .get_result(conn)
            .await?;
        if pending >= i64::from(order.pending_per_client) {
            return Err(CreateOrderError::TooManyPending(order.pending_per_client));
        }
    }
    Statement::new("SELECT pg_advisory_xact_lock(hashtextextended('browser ' || $1::text, 0))")
        .bind::<SqlUuid, _>(order.browser_id)
        .execute(conn)
        .await?;
    let live: i64 = orders::table
        .filter(orders::browser_id.eq(order.browser_id))
        .filter(orders::status.eq(OrderStatus::Pending.as_str()))
        .count()
        .get_result(conn)
        .await?;
    if live > 0 {
        return Err(CreateOrderError::CheckoutInProgress);
    }
    Ok(())
}

/// A total past what `Money` can hold is past Stripe's maximum too.
fn above_maximum(error: MoneyError, currency: Currency) -> CreateOrderError {
    match error {
        MoneyError::Overflow => CreateOrderError::AboveMaximum(
            Money::new(currency.maximum_charge(), currency).unwrap_or(Money::zero(currency)),
        ),
        other => other.into(),
    }
}

fn is_number_taken(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some("orders_number_key"))
}

/// `create_pending` with one order number.
async fn create(
    conn: &mut AsyncPgConnection,
    order: &NewOrder<'_>,
    lines: &[OrderLine],
    number: &OrderNumber,
) -> Result<(Order, Vec<OrderItem>), CreateOrderError> {
    let NewOrder {
        browser_id,
        cart_id,
        livemode,
        save_card,
        ..
    } = *order;
    conn.transaction(async |conn| {
        hold_checkout_slot(conn, order).await?;
        let mut reserved = Vec::with_capacity(lines.len());
        let mut total: Option<Money> = None;
        for line in lines {
            let quantity = i32::try_from(line.quantity).unwrap_or(i32::MAX);
            // Tracked stock is decremented only if enough is left (the row lock
            // makes concurrent reservations queue and re-check); unlimited
            // stock is only read, so popular unlimited products take no lock.
            let row: Option<Reserved> = Statement::new(RESERVE_LINE)
                .bind::<BigInt, _>(line.product_id)
                .bind::<Integer, _>(quantity)
                .get_result(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                let (name, active, stock): (String, bool, Option<i32>) = products::table
                    .find(line.product_id)
                    .select((products::name, products::active, products::stock))
                    .first(conn)
                    .await?;
                return Err(if active {
                    CreateOrderError::OutOfStock {
                        name,
                        available: stock.unwrap_or(0),
                    }
                } else {
                    CreateOrderError::Unavailable(name)
                });
            };
            let currency: Currency = row.currency.parse()?;
            let line_total = Money::new(row.price_minor, currency)?
                .checked_mul(line.quantity)
                .map_err(|error| above_maximum(error, currency))?;
            total = Some(match total {
                Some(sum) => sum
                    .checked_add(line_total)
                    .map_err(|error| above_maximum(error, currency))?,
                None => line_total,
            });
            reserved.push((line, row));
        }
        let total = total.ok_or(CreateOrderError::Empty)?;
        // Returning an error rolls the reservations back: nothing is held.
        let currency = total.currency();
        let minimum = Money::new(currency.minimum_charge(), currency)?;
        if total.minor() < minimum.minor() {
            return Err(CreateOrderError::BelowMinimum(minimum));
        }
        let maximum = Money::new(currency.maximum_charge(), currency)?;
        if total.minor() > maximum.minor() {
            return Err(CreateOrderError::AboveMaximum(maximum));
        }
        let items: Vec<OrderItem> = reserved
            .iter()
            .map(|(line, row)| OrderItem {
                product_id: line.product_id,
                product_name: row.name.clone(),
                unit_price_minor: row.price_minor,
                quantity: i32::try_from(line.quantity).unwrap_or(i32::MAX),
            })
            .collect();
        // The order, its items and its first event in one round trip, prepared
        // once per connection.
        let token = OrderToken::generate();
        let created: Created = Statement::new(CREATE_ORDER)
            .bind::<Text, _>(token.as_str())
            .bind::<SqlUuid, _>(browser_id)
            .bind::<Nullable<SqlUuid>, _>(cart_id)
            .bind::<Text, _>(OrderStatus::Pending.as_str())
            .bind::<Text, _>(total.currency().code())
            .bind::<BigInt, _>(total.minor())
            .bind::<Array<BigInt>, _>(items.iter().map(|i| i.product_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(
                items
                    .iter()
                    .map(|i| i.product_name.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<BigInt>, _>(items.iter().map(|i| i.unit_price_minor).collect::<Vec<_>>())
            .bind::<Array<Integer>, _>(items.iter().map(|i| i.quantity).collect::<Vec<_>>())
            .bind::<Text, _>(CREATED)
            .bind::<Text, _>(Source::Checkout.to_string())
            .bind::<Text, _>(number.as_str())
            .bind::<Bool, _>(livemode)
            .bind::<Nullable<Text>, _>(order.client_key)
            .bind::<Bool, _>(save_card)
            .get_result(conn)
            .await?;
        let order = Order {
            id: created.id,
            token: token.to_string(),
            browser_id,
            cart_id,
            status: OrderStatus::Pending,
            currency: total.currency(),
            amount_total_minor: total.minor(),
            amount_refunded_minor: 0,
            email: None,
            stripe_session_id: None,
            stripe_payment_intent_id: None,
            checkout_url: None,
            paid_at: None,
            created_at: created.created_at,
            number: number.to_string(),
            livemode,
            save_card,
        };
        Ok((order, items))
    })
    .await
}

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

#[derive(QueryableByName)]
struct PaidOrder {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    cart_id: Option<Uuid>,
}

/// pending → paid, at most once: the conditional update lets exactly one of
/// any number of concurrent callers through, and only that one empties the
/// ordered products from the cart and records the `paid` event.
/// Returns whether this call did the transition.
pub async fn mark_paid(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    payment_intent_id: Option<&str>,
    email: Option<&str>,
    source: Source,
) -> QueryResult<bool> {
    conn.transaction(async |conn| {
        // Prepared once per connection (diesel's update DSL is parsed and
        // planned again on every call).
        let paid: Option<PaidOrder> = Statement::new(
            "UPDATE orders SET status = $2, paid_at = now(), stripe_payment_intent_id = $4, \
                 email = $5, checkout_url = NULL, updated_at = now() \
             WHERE id = $1 AND status = $3 RETURNING cart_id",
        )
        .bind::<BigInt, _>(order_id)
        .bind::<Text, _>(OrderStatus::Paid.as_str())
        .bind::<Text, _>(OrderStatus::Pending.as_str())
        .bind::<Nullable<Text>, _>(payment_intent_id)
        .bind::<Nullable<Text>, _>(email)
        .get_result(conn)
        .await
        .optional()?;
        let Some(PaidOrder { cart_id }) = paid else {
            return Ok(false);
        };
        if let Some(cart_id) = cart_id {
            take_paid_from_cart(conn, cart_id, order_id).await?;
        }
        record_event(conn, order_id, OrderStatus::Paid.as_str(), source).await?;
        Ok(true)
    })
    .await
}

/// Takes what the order paid for out of its cart: a line the shopper raised
/// after checking out (in another tab) keeps the units not paid for; a line
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

/// Records the charge's cumulative refunded amount. Refund events may arrive
/// out of order, so only a larger amount than recorded is applied.
pub async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &str,
    amount_refunded_minor: i64,
    source: Source,
) -> QueryResult<bool> {
    conn.transaction(async |conn| {
        let order_id: Option<i64> = Statement::new(
            "UPDATE orders SET amount_refunded_minor = $2, \
                 status = CASE WHEN $2 >= amount_total_minor THEN $3 ELSE $4 END, \
                 updated_at = now() \
             WHERE stripe_payment_intent_id = $1 AND status IN ($5, $4) \
               AND amount_refunded_minor < $2 AND $2 <= amount_total_minor \
             RETURNING id",
        )
        .bind::<Text, _>(payment_intent_id)
        .bind::<BigInt, _>(amount_refunded_minor)
        .bind::<Text, _>(OrderStatus::Refunded.as_str())
        .bind::<Text, _>(OrderStatus::PartiallyRefunded.as_str())
        .bind::<Text, _>(OrderStatus::Paid.as_str())
        .get_result::<OrderId>(conn)
        .await
        .optional()?
        .map(|row| row.id);
        match order_id {
            Some(order_id) => {
                record_event(conn, order_id, REFUNDED, source).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    })
    .await
}

#[derive(QueryableByName)]
struct OrderId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

async fn record_event(
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
