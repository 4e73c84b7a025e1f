use std::time::Duration;

use anyhow::Context;
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use crate::config::{Secret, Settings};
use crate::db::DbPool;
use crate::held_refunds;
use crate::metrics;
use crate::orders::models::{self, CreateOrderError, Order, OrderItem, OrderLine, OrderStatus};
use crate::payments_api;
use crate::payments_api::models::record_checkout_payment;
use crate::stripe::types::{CheckoutSession, IdOrObject, PaymentStatus, SessionStatus};
use crate::stripe::{Form, StripeClient, StripeConfig, StripeError};

/// The key the app uses with its in-process simulator.
const SIMULATOR_KEY: &str = "sk_test_storefront_simulator";

/// Stripe as the checkout sees it: the client, the webhook secret and our
/// public origin for return URLs.
pub struct Payments {
    pub client: StripeClient,
    pub webhook_secret: Secret,
    pub base_url: String,
    pub session_ttl: Duration,
    /// The simulator's origin when it hosts the payment page.
    hosted_origin: Option<String>,
}

impl Payments {
    /// How long a Checkout Session stays payable: the configured time, kept
    /// within Stripe's 30 minutes to 24 hours with a minute to spare (Stripe
    /// measures from its own clock, after our request arrives).
    pub fn session_lifetime(&self) -> Duration {
        Duration::from_secs(self.session_ttl.as_secs().clamp(31 * 60, 24 * 3600 - 60))
    }

    /// Talks to Stripe with STRIPE_SECRET_KEY; without it, starts the
    /// simulator in-process and registers our webhook endpoint with it.
    pub async fn connect(
        settings: &Settings,
        base_url: &str,
    ) -> anyhow::Result<(Payments, Option<stripe_sim::Simulator>)> {
        let config = |api_base: String, secret_key: Secret| StripeConfig {
            api_base,
            secret_key,
            timeout: settings.stripe_timeout,
            max_retries: 2,
        };
        let (client, webhook_secret, simulator, hosted_origin) = match &settings.stripe_secret_key {
            Some(key) => {
                let client =
                    StripeClient::new(config(settings.stripe_api_base.clone(), key.clone()))?;
                let secret = settings
                    .stripe_webhook_secret
                    .clone()
                    .context("STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set")?;
                // A non-Stripe API base is a simulator, which hosts its own payment page.
                let is_stripe = reqwest::Url::parse(&settings.stripe_api_base)
                    .ok()
                    .and_then(|url| url.host_str().map(|host| host.ends_with(".stripe.com")))
                    .unwrap_or(false);
                let hosted = (!is_stripe).then(|| settings.stripe_api_base.clone());
                (client, secret, None, hosted)
            }
            None => {
                let sim_config = stripe_sim::Config {
                    bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    ..stripe_sim::Config::default()
                };
                let simulator = stripe_sim::Simulator::start(sim_config)
                    .await
                    .context("starting the Stripe simulator")?;
                let client =
                    StripeClient::new(config(simulator.base_url(), Secret::new(SIMULATOR_KEY)))?;
                let endpoint = client
                    .create_webhook_endpoint(
                        &format!("{base_url}/webhooks/stripe"),
                        &["*"],
                        &format!("storefront-webhook-{}", Uuid::new_v4()),
                    )
                    .await
                    .context("registering the webhook endpoint with the simulator")?;
                let secret = endpoint
                    .secret
                    .context("the simulator returned no webhook secret")?;
                tracing::info!(
                    simulator = %simulator.base_url(),
                    "TEST MODE: no STRIPE_SECRET_KEY, payments go to the built-in Stripe simulator"
                );
                let origin = simulator.base_url();
                (client, Secret::new(secret), Some(simulator), Some(origin))
            }
        };
        let payments = Payments {
            client,
            webhook_secret,
            base_url: base_url.to_owned(),
            session_ttl: settings.checkout_session_ttl,
            hosted_origin,
        };
        Ok((payments, simulator))
    }

    pub fn is_test_mode(&self) -> bool {
        self.client.is_test_mode()
    }

    /// Where shoppers pay: Stripe's checkout site, or the simulator's own.
    pub fn checkout_origin(&self) -> String {
        match &self.hosted_origin {
            Some(origin) => origin.clone(),
            None => "https://checkout.stripe.com".to_owned(),
        }
    }
}

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
/// Session, and returns its URL. Stripe is never called inside a transaction.
/// If the session cannot be created, the order is cancelled at once and its
/// stock released: nobody can pay a session whose URL they never saw.
pub async fn start_checkout(
    payments: &Payments,
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
        models::create_pending(&mut conn, browser_id, cart_id, lines).await?
    };
    let key = format!("order-{}-checkout-session", order.token);
    let params = session_params(payments, &order, &items, payer);
    let mut created = payments.client.create_checkout_session(&params, &key).await;
    if payer.customer.is_some() && created.as_ref().is_err_and(is_unknown_customer) {
        // Stripe does not know the customer this browser remembers (a
        // simulator since restarted, another account's key): a new one pays,
        // and the return page makes the browser remember it instead.
        let params = session_params(
            payments,
            &order,
            &items,
            Payer {
                customer: None,
                ..payer
            },
        );
        created = payments
            .client
            .create_checkout_session(&params, &format!("{key}-new-customer"))
            .await;
    }
    match created {
        Ok(session) => {
            let mut conn = db.get().await.context("getting a database connection")?;
            let attached =
                models::attach_session(&mut conn, order.id, &session.id, session.url.as_deref())
                    .await
                    .context("storing the checkout session")?;
            if !attached {
                // Stripe answered after the reconciler had cancelled the
                // order: the session must not be paid.
                drop(conn);
                tracing::warn!(order.id = order.id, session.id = %session.id, "checkout session came too late");
                if let Err(error) = expire_session(payments, &order, &session.id).await {
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
            models::close_unpaid(
                &mut conn,
                order.id,
                OrderStatus::Cancelled,
                "checkout_failed",
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

fn session_params(
    payments: &Payments,
    order: &Order,
    items: &[OrderItem],
    payer: Payer<'_>,
) -> Form {
    let currency = order.currency();
    let lifetime = i64::try_from(payments.session_lifetime().as_secs()).unwrap_or(1800);
    let expires_at = chrono::Utc::now().timestamp() + lifetime;
    let mut form = Form::new()
        .field("mode", "payment")
        .field("payment_method_types[0]", "card")
        .field("client_reference_id", order.id)
        .field("metadata[order_id]", order.id)
        .field("metadata[order_token]", &order.token)
        .field("payment_intent_data[metadata][order_id]", order.id)
        .field(
            "success_url",
            format!(
                "{}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
                payments.base_url
            ),
        )
        .field(
            "cancel_url",
            format!(
                "{}/checkout/cancel?order={}",
                payments.base_url, order.token
            ),
        )
        .field("expires_at", expires_at);
    // Every payer is a Stripe customer, and so an account: a returning
    // browser pays as the same one, so a newly saved card joins it.
    form = match payer.customer {
        Some(customer) => form.field("customer", customer),
        None => form.field("customer_creation", "always"),
    };
    if payer.save_card {
        form = form.field("payment_intent_data[setup_future_usage]", "off_session");
    }
    for (i, item) in items.iter().enumerate() {
        let price_data = Form::new()
            .field("currency", currency.code().to_ascii_lowercase())
            .field("unit_amount", item.unit_price(currency).minor())
            .nest(
                "product_data",
                Form::new().field("name", &item.product_name),
            );
        form = form.nest(
            &format!("line_items[{i}]"),
            Form::new()
                .field("quantity", item.quantity())
                .nest("price_data", price_data),
        );
    }
    form
}

/// What applying a session did to its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Paid,
    Expired,
    /// Nothing to do: still open, awaiting an async payment, or already settled.
    Unchanged,
}

/// The one place a Checkout Session's state reaches our order, used by the
/// webhook, the success page and the reconciler. Safe to call any number of
/// times, concurrently: the transitions are conditional on `pending`.
pub async fn apply_session(
    conn: &mut AsyncPgConnection,
    session: &CheckoutSession,
    source: &str,
) -> anyhow::Result<(Option<Order>, Applied)> {
    let Some(order) = find_order(conn, session).await? else {
        tracing::warn!(session.id = %session.id, "checkout session is not one of ours");
        return Ok((None, Applied::Unchanged));
    };
    let applied = match (session.status, session.payment_status) {
        (Some(SessionStatus::Complete), PaymentStatus::Paid | PaymentStatus::NoPaymentRequired) => {
            let amount_matches = session.amount_total == Some(order.total().minor())
                && session
                    .currency
                    .as_deref()
                    .map(str::to_ascii_uppercase)
                    .as_deref()
                    == Some(order.currency().code());
            if !amount_matches {
                // Never ship for a different amount than we asked for: leave it for a person.
                tracing::error!(order.id = order.id, session.id = %session.id, "paid amount differs from the order total");
                Applied::Unchanged
            } else if mark_paid(conn, &order, session, source).await? {
                tracing::info!(order.id = order.id, source, "order paid");
                metrics::get().order_transition("paid", source);
                Applied::Paid
            } else {
                if matches!(
                    order.status,
                    OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Failed
                ) {
                    // Its stock is released and may be sold: a person refunds or ships.
                    tracing::error!(order.id = order.id, session.id = %session.id, status = order.status.as_str(), "a closed order was paid");
                }
                Applied::Unchanged
            }
        }
        (Some(SessionStatus::Expired), _) => {
            if models::close_unpaid(conn, order.id, OrderStatus::Expired, source).await? {
                metrics::get().order_transition("expired", source);
                tracing::info!(order.id = order.id, source, "order expired, stock released");
                Applied::Expired
            } else {
                Applied::Unchanged
            }
        }
        _ => Applied::Unchanged,
    };
    let order = Order::find_by_token(conn, &order.token).await?;
    Ok((order, applied))
}

/// Fulfils the order and, in the same transaction, records its payment in
/// the payer's account history (creating or matching the account).
async fn mark_paid(
    conn: &mut AsyncPgConnection,
    order: &Order,
    session: &CheckoutSession,
    source: &str,
) -> anyhow::Result<bool> {
    let payment_intent = session.payment_intent_id();
    conn.transaction(async |conn| {
        if let Some(payment_intent) = payment_intent {
            held_refunds::lock_payment_intent(conn, payment_intent).await?;
        }
        let paid =
            models::mark_paid(conn, order.id, payment_intent, session.email(), source).await?;
        if paid {
            record_checkout_payment(
                conn,
                order.id,
                order.total(),
                session.customer.as_ref().map(IdOrObject::id),
                session.email(),
                payment_intent,
            )
            .await?;
            // A refund whose event came before this payment's.
            if let Some(payment_intent) = payment_intent
                && let Some(refunded) = held_refunds::take(conn, payment_intent).await?
            {
                record_refund(conn, payment_intent, refunded, source).await?;
            }
        }
        Ok(paid)
    })
    .await
}

/// A charge's refunded total (cumulative: replays and reordered events change
/// nothing) reaches its order and its payment in the account history; if
/// neither has succeeded with its PaymentIntent yet, it is held until one
/// does (`mark_paid`, or a debit's outcome). Call inside a transaction (the
/// PaymentIntent's lock lasts until its end), as the webhook does.
pub async fn apply_refund(
    conn: &mut AsyncPgConnection,
    payment_intent: &str,
    refunded: i64,
    source: &str,
) -> anyhow::Result<()> {
    held_refunds::lock_payment_intent(conn, payment_intent).await?;
    record_refund(conn, payment_intent, refunded, source).await?;
    if held_refunds::hold(conn, payment_intent, refunded).await? {
        tracing::info!(payment_intent, "refund held until its payment is recorded");
    }
    Ok(())
}

async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment_intent: &str,
    refunded: i64,
    source: &str,
) -> QueryResult<()> {
    models::record_refund(conn, payment_intent, refunded, source).await?;
    payments_api::models::record_refund(conn, payment_intent, refunded).await?;
    Ok(())
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
    payments: &Payments,
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
        let mut conn = db.get().await?;
        if models::close_unpaid(&mut conn, order.id, OrderStatus::Cancelled, "cancel_page").await? {
            metrics::get().order_transition("cancelled", "cancel_page");
        }
        return Ok(Cancelled::Closed);
    };
    match expire_session(payments, order, session_id).await {
        Ok(_) => {
            // Closed here, or already by the `expired` webhook Stripe just sent.
            let mut conn = db.get().await?;
            if models::close_unpaid(&mut conn, order.id, OrderStatus::Cancelled, "cancel_page")
                .await?
            {
                metrics::get().order_transition("cancelled", "cancel_page");
            }
            Ok(Cancelled::Closed)
        }
        // Not open any more: paid or expired meanwhile. Apply what Stripe says.
        Err(StripeError::Api { status: 400, .. }) => {
            let session = match payments.client.retrieve_checkout_session(session_id).await {
                Ok(session) => session,
                Err(error) => {
                    tracing::warn!(%error, order.id = order.id, "could not retrieve the checkout session");
                    return Ok(Cancelled::Unknown);
                }
            };
            let mut conn = db.get().await?;
            apply_session(&mut conn, &session, "cancel_page").await?;
            Ok(match (session.status, session.payment_status) {
                (_, PaymentStatus::Paid | PaymentStatus::NoPaymentRequired) => Cancelled::Paid,
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

/// Asks Stripe to expire the order's Checkout Session so that it cannot be
/// paid, under one idempotency key per order.
async fn expire_session(
    payments: &Payments,
    order: &Order,
    session_id: &str,
) -> Result<CheckoutSession, StripeError> {
    let key = format!("order-{}-expire", order.token);
    payments
        .client
        .expire_checkout_session(session_id, &key)
        .await
}

/// Our order for a session: by the stored session id, or by the order token
/// in its metadata (if we crashed before storing the id).
async fn find_order(
    conn: &mut AsyncPgConnection,
    session: &CheckoutSession,
) -> anyhow::Result<Option<Order>> {
    if let Some(order) = Order::find_by_session(conn, &session.id).await? {
        return Ok(Some(order));
    }
    let Some(token) = session.metadata.get("order_token") else {
        return Ok(None);
    };
    match Order::find_by_token(conn, token).await? {
        Some(order) if order.stripe_session_id.is_none() => {
            models::attach_session(conn, order.id, &session.id, session.url.as_deref()).await?;
            Ok(Order::find_by_token(conn, token).await?)
        }
        _ => Ok(None),
    }
}
