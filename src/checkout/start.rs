//! Starting a checkout (a pending order with its stock reserved, then a
//! Checkout Session) and cancelling one when the shopper leaves Stripe's
//! page. Stripe is never called inside a transaction, nor with a pooled
//! connection held.

use anyhow::Context;
use uuid::Uuid;

use super::settle::apply_session;
use crate::db::DbPool;
use crate::metrics;
use crate::orders::domain::{Order, OrderItem, OrderLine, OrderStatus, Source};
use crate::orders::store::{self, CreateOrderError};
use crate::stripe::params::{LineItem, NewCheckoutSession};
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

/// Creates the pending order (reserving stock, committed), then the Checkout
/// Session, and returns its URL. If the session cannot be created, the order
/// is cancelled at once and its stock released: nobody can pay a session
/// whose URL they never saw.
pub async fn start_checkout(
    stripe: &StripeGateway,
    db: &DbPool,
    browser_id: Uuid,
    source: CheckoutSource,
    lines: &[OrderLine],
    payer: Payer<'_>,
) -> Result<String, CheckoutError> {
    let cart_id = match source {
        CheckoutSource::Cart(cart_id) => Some(cart_id),
        CheckoutSource::Express => None,
    };
    // No connection is held while Stripe is called: a slow Stripe must not drain the pool.
    let (order, items) = {
        let mut conn = db.get().await.context("getting a database connection")?;
        let livemode = !stripe.is_test_mode();
        store::create_pending(&mut conn, browser_id, cart_id, lines, livemode).await?
    };
    let key = format!("order-{}-checkout-session", order.token);
    let mut created = stripe
        .client
        .create_checkout_session(&new_session(stripe, &order, &items, payer), &key)
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
                &new_session(stripe, &order, &items, new_payer),
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
                if let Err(error) = expire_session(stripe, &order, &session.id).await {
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

/// The Checkout Session for `order`, priced from its snapshot of our prices.
fn new_session<'a>(
    stripe: &StripeGateway,
    order: &'a Order,
    items: &'a [OrderItem],
    payer: Payer<'a>,
) -> NewCheckoutSession<'a> {
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
    /// Stripe could not be asked: the page may still be paid, and the order
    /// stays pending for Stripe's word (webhook, expiry or reconciler).
    Unknown,
}

/// The shopper left Stripe's page: expire the session so it cannot be paid
/// later, then release the order. If it was paid meanwhile, fulfil instead.
pub async fn cancel_checkout(
    stripe: &StripeGateway,
    db: &DbPool,
    order: &Order,
) -> anyhow::Result<Cancelled> {
    if order.is_paid() {
        return Ok(Cancelled::Paid);
    }
    if order.status != OrderStatus::Pending {
        return Ok(Cancelled::Closed);
    }
    let Some(session_id) = &order.stripe_session_id else {
        close_cancelled(db, order).await?;
        return Ok(Cancelled::Closed);
    };
    match expire_session(stripe, order, session_id).await {
        Ok(_) => {
            // Closed here, or already by the `expired` webhook Stripe just sent.
            close_cancelled(db, order).await?;
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
            let mut conn = db.get().await?;
            apply_session(&mut conn, &session, Source::CancelPage).await?;
            Ok(match (session.status, session.payment_status) {
                (_, SessionPaymentStatus::Paid | SessionPaymentStatus::NoPaymentRequired) => {
                    Cancelled::Paid
                }
                (Some(SessionStatus::Expired), _) => Cancelled::Closed,
                // Complete but unpaid: a delayed payment method is still at work.
                _ => Cancelled::Unknown,
            })
        }
        Err(error) => {
            tracing::warn!(%error, order.id = order.id, "could not expire the checkout session");
            Ok(Cancelled::Unknown)
        }
    }
}

/// pending → cancelled from the cancel page.
async fn close_cancelled(db: &DbPool, order: &Order) -> anyhow::Result<()> {
    let mut conn = db.get().await?;
    if store::close_unpaid(
        &mut conn,
        order.id,
        OrderStatus::Cancelled,
        Source::CancelPage,
    )
    .await?
    {
        metrics::get().order_transition("cancelled", Source::CancelPage);
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
