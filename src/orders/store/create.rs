//! Creating a pending order: its stock reserved with a conditional
//! decrement (no oversell), a random public number, the shipping options it
//! offers, the browser's one live checkout and the client address's cap, in
//! one transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, SmallInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::Statement;
use crate::db::schema::{orders, products};
use crate::ids::{OrderNumber, OrderToken};
use crate::money::{Currency, Money, MoneyError};
use crate::orders::domain::{Order, OrderItem, OrderLine, OrderStatus, ShippingOption, Source};
use crate::shop_settings::domain::{ShippingRate, TaxBehavior, offers};

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

/// Reserves a line's stock if enough is left (see `create_pending`).
const RESERVE_LINE: &str = include_str!("sql/reserve_line.sql");
/// The order, its items and its first event in one round trip.
const CREATE_ORDER: &str = include_str!("sql/create_order.sql");
/// The event that starts every order's history (`order_events.kind`).
const CREATED: &str = "created";

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    price_minor: i64,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Bool)]
    requires_shipping: bool,
}

/// A new order's row as the database made it.
#[derive(QueryableByName)]
struct Created {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    created_at: DateTime<Utc>,
}

/// A pending order as created: its items, and the shipping options it
/// offers (`None` when nothing in it ships: no address is asked for).
#[derive(Debug)]
pub struct PendingOrder {
    pub order: Order,
    pub items: Vec<OrderItem>,
    pub shipping: Option<Vec<ShippingOption>>,
}

/// Creates a pending order and reserves its stock in one transaction. The
/// conditional decrement (`stock >= quantity`) makes overselling impossible
/// however many checkouts race for the last units.
pub async fn create_pending(
    conn: &mut AsyncPgConnection,
    order: &NewOrder<'_>,
) -> Result<PendingOrder, CreateOrderError> {
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
    /// The merchant's shipping rates, offered when something in it ships.
    pub shipping_rates: &'a [ShippingRate],
    /// Whether its prices include tax.
    pub tax_behavior: TaxBehavior,
}

/// A browser has at most one live checkout, and a client address at most
/// `pending_per_client`: checked under locks on both (taken in this order
/// by every checkout), so that concurrent checkouts cannot both pass. An
/// order whose payment was submitted and is settling (a bank debit) counts
/// for neither: it is a payment made, not a payment page left open, and
/// nobody can pay it twice.
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
            .filter(orders::completed_at.is_null())
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
        .filter(orders::completed_at.is_null())
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
) -> Result<PendingOrder, CreateOrderError> {
    let NewOrder {
        browser_id,
        cart_id,
        livemode,
        save_card,
        tax_behavior,
        ..
    } = *order;
    let prices_include_tax = tax_behavior.prices_include_tax();
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
        let ships = reserved.iter().any(|(_, row)| row.requires_shipping);
        let offered = if ships {
            offers(order.shipping_rates, total)
        } else {
            Vec::new()
        };
        // The dearest option may be chosen: the total with it must be payable.
        let dearest = offered.iter().map(|o| o.amount.minor()).max().unwrap_or(0);
        let maximum = Money::new(currency.maximum_charge(), currency)?;
        if total.minor().saturating_add(dearest) > maximum.minor() {
            return Err(CreateOrderError::AboveMaximum(maximum));
        }
        let shipping_options: Vec<ShippingOption> = offered
            .iter()
            .zip(0..)
            .map(|(offer, position)| ShippingOption {
                position,
                shipping_rate_id: Some(offer.rate_id),
                display_name: offer.display_name.clone(),
                amount_minor: offer.amount.minor(),
                min_business_days: offer.delivery.map(|d| i32::from(d.min_business_days())),
                max_business_days: offer.delivery.map(|d| i32::from(d.max_business_days())),
                chosen: false,
            })
            .collect();
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
            .bind::<Bool, _>(prices_include_tax)
            .bind::<Array<SmallInt>, _>(
                shipping_options
                    .iter()
                    .map(|o| o.position)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<BigInt>>, _>(
                shipping_options
                    .iter()
                    .map(|o| o.shipping_rate_id)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(
                shipping_options
                    .iter()
                    .map(|o| o.display_name.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<BigInt>, _>(
                shipping_options
                    .iter()
                    .map(|o| o.amount_minor)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Integer>>, _>(
                shipping_options
                    .iter()
                    .map(|o| o.min_business_days)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Integer>>, _>(
                shipping_options
                    .iter()
                    .map(|o| o.max_business_days)
                    .collect::<Vec<_>>(),
            )
            .get_result(conn)
            .await?;
        let order = Order {
            id: created.id,
            token: token.to_string(),
            browser_id,
            cart_id,
            status: OrderStatus::Pending,
            currency: total.currency(),
            items_total_minor: total.minor(),
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
            prices_include_tax,
            completed_at: None,
            amount_charged_minor: None,
        };
        Ok(PendingOrder {
            order,
            items,
            shipping: ships.then_some(shipping_options),
        })
    })
    .await
}
