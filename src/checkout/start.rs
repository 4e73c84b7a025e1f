//! Starting a checkout (a pending order with its stock reserved, then a
//! Checkout Session) and cancelling one when the shopper leaves Stripe's
//! page. Stripe is never called inside a transaction, nor with a pooled
//! connection held.

use std::time::Duration;

use anyhow::Context;
use uuid::Uuid;

use super::settle::{apply_session, report};
use crate::db::DbPool;
use crate::metrics;
use crate::money::Money;
use crate::orders::domain::{Order, OrderLine, OrderStatus, Source};
use crate::orders::store::{self, CreateOrderError, NewOrder, PendingOrder};
use crate::shop_settings::domain::{ShippingRate, ShopSettings};
use crate::shop_settings::store as settings_store;
use crate::stripe::params::{LineItem, NewCheckoutSession, Shipping, ShippingOption};
use crate::stripe::types::{CheckoutSession, SessionPaymentStatus, SessionStatus};
use crate::stripe::{StripeError, StripeGateway};

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error(transparent)]
    Order(#[from] CreateOrderError),
    #[error("Stripe is unavailable")]
    Stripe(#[source] StripeError),
    /// Stripe answered after the order had been given up on (see the
    /// reconciler); the session was expired.
    #[error("Stripe answered too late")]
    TooLate,
    /// An earlier checkout of the browser could not be closed (Stripe was
    /// unreachable): it may still be paid, so no second one starts.
    #[error("an earlier checkout is still open")]
    EarlierCheckoutOpen,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Where a checkout comes from: the cart (emptied once paid) or "Buy now".
pub enum CheckoutSource {
    Cart(Uuid),
    Express,
}

/// Who is paying, as far as this browser knows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Payer<'a> {
    /// The Stripe customer that paid this browser's last order. An email is
    /// never used to find one: Stripe's page lets anyone type any address.
    pub customer: Option<&'a str>,
    /// "Save my card for next time": the card is kept on the Stripe customer
    /// for off-session debits through the payments API.
    pub save_card: bool,
}

/// A checkout to start: what to buy, at the prices shown (our database's),
/// for whom, from where.
pub struct CheckoutRequest<'a> {
    pub browser_id: Uuid,
    /// The client address (as the rate limits count it), if known.
    pub client_key: Option<&'a str>,
    pub source: CheckoutSource,
    pub lines: &'a [CheckoutLine],
    pub payer: Payer<'a>,
    /// Most pending checkouts one client address may hold; 0 for no cap.
    pub pending_per_client: u32,
}

/// A product, how many, and its price as the shopper saw it.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutLine {
    pub product_id: i64,
    pub quantity: u32,
    pub unit_price: Money,
}

/// Longest a checkout waits for a twin's payment page (a double click, a
/// second tab) before starting its own.
const TWIN_WAIT: Duration = Duration::from_secs(10);

/// Starts a checkout and returns its payment page's URL. A browser has one
/// live checkout: the same cart (or product) unchanged gets the payment
/// page it already has (a double click, the Back button, a second tab);
/// anything else supersedes the browser's earlier checkouts (their sessions
/// expired at Stripe, their stock released) before reserving anew.
pub async fn start_checkout(
    stripe: &StripeGateway,
    db: &DbPool,
    request: &CheckoutRequest<'_>,
) -> Result<String, CheckoutError> {
    let cart_id = match request.source {
        CheckoutSource::Cart(cart_id) => Some(cart_id),
        CheckoutSource::Express => None,
    };
    let merchant = {
        let mut conn = db.get().await.context("getting a database connection")?;
        Merchant {
            settings: settings_store::settings(&mut conn)
                .await
                .context("reading the shop's settings")?,
            rates: settings_store::shipping_rates(&mut conn)
                .await
                .context("reading the shipping rates")?,
        }
    };
    // A checkout racing ours from the same browser can come between our
    // supersede and our insert: look again, a few times.
    for _ in 0..3 {
        let pending = {
            let mut conn = db.get().await.context("getting a database connection")?;
            store::pending_for_browser(&mut conn, request.browser_id)
                .await
                .context("reading the browser's checkouts")?
        };
        for order in &pending {
            if is_twin(stripe, db, order, cart_id, request.lines).await?
                && let Some(url) = payment_page_of(stripe, db, order).await?
            {
                return Ok(url);
            }
        }
        for order in &pending {
            supersede(stripe, db, order).await?;
        }
        match create_and_pay(stripe, db, request, cart_id, &merchant).await {
            Err(CheckoutError::Order(CreateOrderError::CheckoutInProgress)) => continue,
            result => return result,
        }
    }
    Err(CheckoutError::Order(CreateOrderError::CheckoutInProgress))
}

/// Whether `order` is this checkout again: the same cart (or Buy now)
/// with the same products, quantities and prices, and time left to pay.
async fn is_twin(
    stripe: &StripeGateway,
    db: &DbPool,
    order: &Order,
    cart_id: Option<Uuid>,
    lines: &[CheckoutLine],
) -> Result<bool, CheckoutError> {
    let payable_until = order.created_at
        + chrono::Duration::from_std(stripe.session_lifetime()).unwrap_or_default()
        - chrono::Duration::minutes(5);
    if order.cart_id != cart_id || payable_until < chrono::Utc::now() {
        return Ok(false);
    }
    let items = {
        let mut conn = db.get().await.context("getting a database connection")?;
        store::items(&mut conn, order)
            .await
            .context("reading the order's items")?
    };
    let mut wanted: Vec<_> = lines
        .iter()
        .map(|line| (line.product_id, line.quantity, line.unit_price))
        .collect();
    let mut ordered: Vec<_> = items
        .iter()
        .map(|item| {
            let price = item.unit_price(order.currency());
            (item.product_id, item.quantity(), price)
        })
        .collect();
    wanted.sort_by_key(|line| line.0);
    ordered.sort_by_key(|line| line.0);
    Ok(wanted == ordered)
}

/// The payment page of a twin checkout, waiting a little for it while its
/// session is being created; `None` if it does not come (the twin failed,
/// or its node died mid-way): then this checkout supersedes it.
async fn payment_page_of(
    stripe: &StripeGateway,
    db: &DbPool,
    order: &Order,
) -> Result<Option<String>, CheckoutError> {
    let deadline = tokio::time::Instant::now() + TWIN_WAIT.min(stripe.client.worst_case_duration());
    let mut order = order.clone();
    loop {
        if order.status != OrderStatus::Pending {
            return Ok(None);
        }
        if let Some(url) = order.checkout_url {
            return Ok(Some(url));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut conn = db.get().await.context("getting a database connection")?;
        let token = crate::ids::OrderToken::parse(&order.token).context("the order's token")?;
        match store::find_by_token(&mut conn, &token)
            .await
            .context("reading the order")?
        {
            Some(now) => order = now,
            None => return Ok(None),
        }
    }
}

/// The merchant's settings a checkout follows: where goods ship, at which
/// rates, tax, promotion codes.
struct Merchant {
    settings: ShopSettings,
    rates: Vec<ShippingRate>,
}

/// Closes an earlier checkout of the browser (its session expired at
/// Stripe, its stock released) before a new one starts. If Stripe cannot
/// be asked, the earlier page may still be paid: no second one is started.
async fn supersede(
    stripe: &StripeGateway,
    db: &DbPool,
    order: &Order,
) -> Result<(), CheckoutError> {
    match cancel_checkout(stripe, db, order, Source::Superseded).await? {
        Cancelled::Closed | Cancelled::Paid | Cancelled::Processing => Ok(()),
        Cancelled::Unknown => Err(CheckoutError::EarlierCheckoutOpen),
    }
}

/// Creates the pending order (reserving stock, committed), then the Checkout
/// Session, and returns its URL. If the session cannot be created, the order
/// is cancelled at once and its stock released: nobody can pay a session
/// whose URL they never saw.
async fn create_and_pay(
    stripe: &StripeGateway,
    db: &DbPool,
    request: &CheckoutRequest<'_>,
    cart_id: Option<Uuid>,
    merchant: &Merchant,
) -> Result<String, CheckoutError> {
    let lines: Vec<OrderLine> = request
        .lines
        .iter()
        .map(|line| OrderLine {
            product_id: line.product_id,
            quantity: line.quantity,
        })
        .collect();
    let payer = request.payer;
    let new_order = NewOrder {
        browser_id: request.browser_id,
        cart_id,
        lines: &lines,
        livemode: !stripe.is_test_mode(),
        save_card: payer.save_card,
        client_key: request.client_key,
        pending_per_client: request.pending_per_client,
        shipping_rates: &merchant.rates,
        tax_behavior: merchant.settings.tax_behavior,
    };
    // No connection is held while Stripe is called: a slow Stripe must not drain the pool.
    let pending = {
        let mut conn = db.get().await.context("getting a database connection")?;
        store::create_pending(&mut conn, &new_order).await?
    };
    let order = &pending.order;
    let key = format!("order-{}-checkout-session", order.token);
    let mut created = stripe
        .client
        .create_checkout_session(&new_session(stripe, &pending, merchant, payer), &key)
        .await;
    if payer.customer.is_some() && created.as_ref().is_err_and(is_unknown_customer) {
        // Stripe does not know the customer this browser remembers (a
        // simulator since restarted, another account's key): a new one pays,
        // and the return page makes the browser remember it instead.
        let new_payer = Payer {
            customer: None,
            ..payer
        };
        created = stripe
            .client
            .create_checkout_session(
                &new_session(stripe, &pending, merchant, new_payer),
                &format!("{key}-new-customer"),
            )
            .await;
    }
    match created {
        Ok(session) => {
            let mut conn = db.get().await.context("getting a database connection")?;
            let attached =
                store::attach_session(&mut conn, order.id, &session.id, session.url.as_deref())
                    .await
                    .context("storing the checkout session")?;
            if !attached {
                // Stripe answered after the reconciler had cancelled the
                // order: the session must not be paid.
                drop(conn);
                tracing::warn!(order.id = order.id, session.id = %session.id, "checkout session came too late");
                if let Err(error) = expire_session(stripe, order, &session.id).await {
                    tracing::warn!(%error, order.id = order.id, "could not expire the late checkout session");
                }
                metrics::get().checkout("stripe_error");
                return Err(CheckoutError::TooLate);
            }
            tracing::info!(order.id = order.id, session.id = %session.id, "checkout session created");
            metrics::get().checkout("created");
            session
                .url
                .context("Stripe returned a checkout session without a URL")
                .map_err(CheckoutError::Unexpected)
        }
        Err(error) => {
            if error.is_outage() {
                tracing::warn!(order.id = order.id, %error, "could not create the checkout session");
            } else {
                tracing::error!(order.id = order.id, %error, "Stripe refused to create the checkout session");
            }
            metrics::get().checkout("stripe_error");
            let mut conn = db.get().await.context("getting a database connection")?;
            store::close_unpaid(
                &mut conn,
                order.id,
                OrderStatus::Cancelled,
                Source::CheckoutFailed,
            )
            .await
            .context("releasing the order after a Stripe failure")?;
            Err(CheckoutError::Stripe(error))
        }
    }
}

fn is_unknown_customer(error: &StripeError) -> bool {
    matches!(error, StripeError::Api { status: 400, body, .. }
        if body.code.as_deref() == Some("resource_missing") && body.param.as_deref() == Some("customer"))
}

/// The Checkout Session for an order, priced from its snapshot of our
/// prices, with the shipping options it offers and the merchant's tax and
/// promotion code settings.
fn new_session<'a>(
    stripe: &StripeGateway,
    pending: &'a PendingOrder,
    merchant: &'a Merchant,
    payer: Payer<'a>,
) -> NewCheckoutSession<'a> {
    let PendingOrder {
        order,
        items,
        shipping,
    } = pending;
    let currency = order.currency();
    let lifetime = i64::try_from(stripe.session_lifetime().as_secs()).unwrap_or(1800);
    NewCheckoutSession {
        line_items: items
            .iter()
            .map(|item| LineItem {
                name: &item.product_name,
                unit_price: item.unit_price(currency),
                quantity: item.quantity(),
            })
            .collect(),
        order_id: order.id,
        order_token: &order.token,
        success_url: format!(
            "{}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
            stripe.base_url
        ),
        cancel_url: format!("{}/checkout/cancel?order={}", stripe.base_url, order.token),
        expires_at: chrono::Utc::now().timestamp() + lifetime,
        customer: payer.customer,
        save_card: payer.save_card,
        shipping: shipping.as_ref().map(|options| Shipping {
            countries: merchant
                .settings
                .shipping_countries()
                .iter()
                .map(|country| country.code())
                .collect(),
            options: options
                .iter()
                .map(|option| ShippingOption {
                    display_name: &option.display_name,
                    amount: option.amount(currency),
                    delivery: option.delivery(),
                })
                .collect(),
        }),
        automatic_tax: merchant.settings.automatic_tax,
        tax_behavior: order.tax_behavior(),
        allow_promotion_codes: merchant.settings.promotion_codes,
    }
}

/// What the shopper leaving Stripe's page came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The payment page is closed and the order released: nothing can be
    /// charged.
    Closed,
    /// It was paid meanwhile: the order is fulfilled.
    Paid,
    /// The shopper submitted a payment that settles later (a bank debit):
    /// the order waits for it, its page is gone.
    Processing,
    /// Stripe could not be asked: the page may still be paid, and the order
    /// stays pending for Stripe's word (webhook, expiry or reconciler).
    Unknown,
}

/// Closes a checkout that will not be paid (the shopper left Stripe's page,
/// or started a newer one): expire the session so it cannot be paid later,
/// then release the order. If it was paid meanwhile, fulfil instead.
pub async fn cancel_checkout(
    stripe: &StripeGateway,
    db: &DbPool,
    order: &Order,
    source: Source,
) -> anyhow::Result<Cancelled> {
    if order.is_paid() {
        return Ok(Cancelled::Paid);
    }
    if order.status != OrderStatus::Pending {
        return Ok(Cancelled::Closed);
    }
    if order.payment_processing() {
        return Ok(Cancelled::Processing);
    }
    let Some(session_id) = &order.stripe_session_id else {
        close_cancelled(db, order, source).await?;
        return Ok(Cancelled::Closed);
    };
    match expire_session(stripe, order, session_id).await {
        Ok(_) => {
            // Closed here, or already by the `expired` webhook Stripe just sent.
            close_cancelled(db, order, source).await?;
            Ok(Cancelled::Closed)
        }
        // Not open any more: paid or expired meanwhile. Apply what Stripe says.
        Err(StripeError::Api { status: 400, .. }) => {
            let session = match stripe.client.retrieve_checkout_session(session_id).await {
                Ok(session) => session,
                Err(error) => {
                    tracing::warn!(%error, order.id = order.id, "could not retrieve the checkout session");
                    return Ok(Cancelled::Unknown);
                }
            };
            let (status, payment_status) = (session.status, session.payment_status);
            let reported = match report(&stripe.client, session).await {
                Ok(reported) => reported,
                Err(error) => {
                    tracing::warn!(%error, order.id = order.id, "could not look up the checkout's promotion code");
                    return Ok(Cancelled::Unknown);
                }
            };
            let mut conn = db.get().await?;
            apply_session(&mut conn, &reported, source).await?;
            Ok(match (status, payment_status) {
                (_, SessionPaymentStatus::Paid | SessionPaymentStatus::NoPaymentRequired) => {
                    Cancelled::Paid
                }
                (Some(SessionStatus::Expired), _) => Cancelled::Closed,
                // Complete but unpaid: a payment that settles later is at work.
                (Some(SessionStatus::Complete), _) => Cancelled::Processing,
                _ => Cancelled::Unknown,
            })
        }
        // Stripe does not know the session (made by a simulator since
        // restarted): nobody can pay it here, and its shopper gave it up.
        Err(error) if error.code() == Some("resource_missing") => {
            close_cancelled(db, order, source).await?;
            Ok(Cancelled::Closed)
        }
        Err(error) => {
            tracing::warn!(%error, order.id = order.id, "could not expire the checkout session");
            Ok(Cancelled::Unknown)
        }
    }
}

/// pending → cancelled.
async fn close_cancelled(db: &DbPool, order: &Order, source: Source) -> anyhow::Result<()> {
    let mut conn = db.get().await?;
    if store::close_unpaid(&mut conn, order.id, OrderStatus::Cancelled, source).await? {
        metrics::get().order_transition("cancelled", source);
    }
    Ok(())
}

/// Asks Stripe to expire the order's Checkout Session so that it cannot be
/// paid, under one idempotency key per order.
async fn expire_session(
    stripe: &StripeGateway,
    order: &Order,
    session_id: &str,
) -> Result<CheckoutSession, StripeError> {
    let key = format!("order-{}-expire", order.token);
    stripe
        .client
        .expire_checkout_session(session_id, &key)
        .await
}
