//! Checkout's routes: check out the cart or "Buy now" one product (303 to
//! Stripe's payment page), and Stripe's return pages (success and cancel).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use serde::Deserialize;

use super::settle::settle_session;
use super::start::{
    self, Cancelled, CheckoutError, CheckoutLine, CheckoutRequest, CheckoutSource, Payer,
};
use crate::cart::domain::{Quantity, mixed_currencies};
use crate::cart::store as cart_store;
use crate::catalog::store as catalog_store;
use crate::ids::{CheckoutSessionId, OrderToken, ProductSlug};
use crate::ledger::store as ledger;
use crate::money::MoneyError;
use crate::orders::domain::{Order, OrderStatus, Source};
use crate::orders::store::{self as order_store, CreateOrderError};
use crate::state::AppState;
use crate::stripe::StripeError;
use crate::web::rate_limit::RateLimiter;
use crate::web::{
    AppError, CartPage, CsrfForm, FlashLevel, FormResponse, Layout, MIXED_CURRENCIES, ProductForm,
    ProductPage, TypedSession, product_not_found, see_other,
};

/// What the shopper is told when checkout could not start, and the status
/// of the page that says it: the same on the cart and Buy now paths.
/// Failures that are ours (the database, an unexpected answer) are errors,
/// shown as the error page.
fn checkout_failure(error: CheckoutError) -> Result<(String, StatusCode), AppError> {
    let refused = |message: String| Ok((message, StatusCode::CONFLICT));
    match error {
        CheckoutError::Order(CreateOrderError::OutOfStock { name, available: 0 }) => {
            refused(format!("Sorry, {name} has just sold out."))
        }
        CheckoutError::Order(CreateOrderError::OutOfStock { name, available }) => refused(format!(
            "Sorry, only {available} of {name} are left. Please lower the quantity."
        )),
        CheckoutError::Order(CreateOrderError::Unavailable(name)) => {
            refused(format!("{name} is no longer available."))
        }
        CheckoutError::Order(CreateOrderError::Empty) => refused("Your cart is empty.".into()),
        CheckoutError::Order(CreateOrderError::BelowMinimum(minimum)) => refused(format!(
            "Orders start at {minimum}: please add a little more."
        )),
        CheckoutError::Order(CreateOrderError::AboveMaximum(maximum)) => refused(format!(
            "One payment can be at most {maximum}: please lower the quantities, or split \
             your order."
        )),
        CheckoutError::Order(CreateOrderError::Money(MoneyError::CurrencyMismatch(..))) => {
            refused(MIXED_CURRENCIES.into())
        }
        CheckoutError::Order(CreateOrderError::Money(e)) => Err(anyhow::Error::from(e).into()),
        CheckoutError::Order(CreateOrderError::CheckoutInProgress) => refused(
            "Your checkout is starting in another tab or window. Please wait a moment and \
             try again."
                .into(),
        ),
        CheckoutError::Order(CreateOrderError::TooManyPending(limit)) => Ok((
            format!(
                "There are already {limit} checkouts waiting for payment from your network. \
                 Please finish or cancel one of them (or wait until they expire) before \
                 starting another."
            ),
            StatusCode::TOO_MANY_REQUESTS,
        )),
        CheckoutError::Order(CreateOrderError::Database(e)) => Err(e.into()),
        CheckoutError::Stripe(ref stripe)
            if !stripe.is_outage() && stripe.status() != Some(409) =>
        {
            // Our request was wrong: it needs us.
            Ok((
                "Our payment provider refused to start this payment, so nothing was charged. \
                 We have been alerted; please try again later."
                    .into(),
                StatusCode::BAD_GATEWAY,
            ))
        }
        // An outage, contention, or an answer too late: it passes.
        CheckoutError::Stripe(_) | CheckoutError::TooLate | CheckoutError::EarlierCheckoutOpen => {
            Ok((
                "We couldn't reach our payment provider just now, so nothing was charged. \
             Please try again in a moment."
                    .into(),
                StatusCode::SERVICE_UNAVAILABLE,
            ))
        }
        CheckoutError::Unexpected(e) => Err(e.into()),
    }
}

/// The "Save my card for next time" checkbox (present when ticked).
#[derive(Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    save_card: Option<String>,
}

/// Starts this browser's checkout of `lines`: the payment page's URL, or
/// why not (the outer error is ours: the session could not be written).
async fn begin(
    state: &AppState,
    limiter: &RateLimiter,
    req: &HttpRequest,
    session: &TypedSession,
    source: CheckoutSource,
    lines: &[CheckoutLine],
    save_card: bool,
) -> Result<Result<String, CheckoutError>, AppError> {
    // It pays as the Stripe customer this browser remembers only if the
    // shopper saves their card again: a shared computer must not pay as its
    // previous user.
    let customer = if save_card { session.customer() } else { None };
    // The client address, as the rate limits count it.
    let client = limiter.client(req).map(|ip| ip.to_string());
    let request = CheckoutRequest {
        browser_id: session.ensure_browser_id()?,
        client_key: client.as_deref(),
        source,
        lines,
        payer: Payer {
            customer: customer.as_deref(),
            save_card,
        },
        pending_per_client: state.pending_checkouts_per_client,
    };
    Ok(start::start_checkout(&state.stripe, &state.db, &request).await)
}

/// `POST /checkout`: checkout of the whole cart, 303 to Stripe's payment page.
pub async fn checkout_cart(
    state: web::Data<AppState>,
    limiter: web::Data<RateLimiter>,
    req: HttpRequest,
    session: TypedSession,
    CsrfForm(form): CsrfForm<CheckoutForm>,
) -> FormResponse<CartPage> {
    let test_mode = state.test_mode();
    let alert = async |message: String, status| {
        CartPage::with_alert(&state.db, &session, test_mode, message, status).await
    };
    let cart_id = session.cart_id();
    let lines = match cart_id {
        Some(cart_id) => cart_store::lines(&mut *state.db.get().await?, cart_id).await?,
        None => Vec::new(),
    };
    let (Some(cart_id), false) = (cart_id, lines.is_empty()) else {
        session.flash(FlashLevel::Error, "Your cart is empty.")?;
        return see_other("/cart");
    };
    if let Some(line) = lines.iter().find(|line| !line.purchasable()) {
        let name = &line.product.name;
        let message = if line.product.active {
            format!("Sorry, {name} has just sold out. Please remove it to check out.")
        } else {
            format!("{name} is no longer available. Please remove it to check out.")
        };
        return CartPage::with_error(
            &state.db,
            &session,
            test_mode,
            line.item_id.into(),
            message,
            StatusCode::CONFLICT,
        )
        .await;
    }
    if mixed_currencies(&lines) {
        return alert(MIXED_CURRENCIES.into(), StatusCode::CONFLICT).await;
    }
    let checkout_lines: Vec<CheckoutLine> = lines
        .iter()
        .map(|line| CheckoutLine {
            product_id: line.product.id,
            quantity: line.quantity,
            unit_price: line.product.price(),
        })
        .collect();
    let source = CheckoutSource::Cart(cart_id);
    let save_card = form.save_card.is_some();
    match begin(
        &state,
        &limiter,
        &req,
        &session,
        source,
        &checkout_lines,
        save_card,
    )
    .await?
    {
        Ok(url) => see_other(url),
        Err(error) => {
            let (message, status) = checkout_failure(error)?;
            alert(message, status).await
        }
    }
}

#[derive(Deserialize)]
pub struct ExpressForm {
    #[serde(flatten)]
    choice: ProductForm,
    #[serde(default)]
    save_card: Option<String>,
}

/// `POST /checkout/express`: "Buy now" on a product page, checkout of one
/// product without touching the cart.
pub async fn checkout_express(
    state: web::Data<AppState>,
    limiter: web::Data<RateLimiter>,
    req: HttpRequest,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ExpressForm>,
) -> FormResponse<ProductPage> {
    let choice = &form.choice;
    let again = async |message: String, status| {
        let layout = Layout::new(&session, state.test_mode())?;
        choice
            .rerender(&state.catalog, &state.reads, layout, message, status)
            .await
    };
    let quantity = match Quantity::parse_positive(&choice.quantity) {
        Ok(quantity) => quantity,
        Err(message) => return again(message, StatusCode::BAD_REQUEST).await,
    };
    let slug = ProductSlug::parse(&choice.product).ok_or_else(product_not_found)?;
    let product = catalog_store::find_active(&mut *state.db.get().await?, &slug)
        .await?
        .ok_or_else(product_not_found)?;
    let line = CheckoutLine {
        product_id: product.id,
        quantity: quantity.get(),
        unit_price: product.price(),
    };
    let source = CheckoutSource::Express;
    let save_card = form.save_card.is_some();
    match begin(&state, &limiter, &req, &session, source, &[line], save_card).await? {
        Ok(url) => see_other(url),
        Err(error) => {
            let (message, status) = checkout_failure(error)?;
            again(message, status).await
        }
    }
}

/// How often the return page may ask Stripe about one pending order.
const ASK_STRIPE_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Deserialize)]
pub struct SuccessQuery {
    session_id: Option<String>,
}

/// `GET /checkout/success`: Stripe's return page. Confirm with Stripe,
/// fulfil if paid (the webhook may have already), then show the order.
pub async fn success(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<SuccessQuery>,
) -> Result<web::Redirect, AppError> {
    let not_found = || AppError::NotFound("We couldn't find that checkout.".into());
    let session_id = query
        .session_id
        .as_deref()
        .and_then(CheckoutSessionId::parse)
        .ok_or_else(not_found)?;
    let mut conn = state.db.get().await?;
    let mut order = order_store::find_by_session(&mut conn, session_id.as_str())
        .await?
        .ok_or_else(not_found)?;
    // Settled orders answer from the database; a pending one asks Stripe at
    // most every few seconds, however often anyone loads this page. The
    // webhook usually wins this race; if Stripe cannot be asked right now,
    // the order page says the payment is being confirmed.
    if order.status == OrderStatus::Pending {
        if order_store::may_ask_stripe(&mut conn, order.id, ASK_STRIPE_EVERY).await? {
            drop(conn);
            let client = &state.stripe.client;
            match client.retrieve_checkout_session(session_id.as_str()).await {
                Ok(checkout) => {
                    let settled =
                        settle_session(client, &state.db, checkout, Source::SuccessPage).await;
                    match settled {
                        Ok(_) => {}
                        // Its promotion code could not be looked up: the
                        // webhook or the reconciler settles it.
                        Err(error) if error.is::<StripeError>() => {
                            tracing::warn!(%error, order.id = order.id, "could not settle the checkout session")
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, order.id = order.id, "could not confirm the checkout session")
                }
            }
            conn = state.db.get().await?;
        }
        // As it is now: settled here, by the webhook meanwhile, or still pending.
        if let Some(now) = order_store::find_by_session(&mut conn, session_id.as_str()).await? {
            order = now;
        }
    }
    // This browser pays as the same customer next time only if the shopper
    // chose to save their card, and the order is its own (whoever holds a
    // session id can open this page).
    if order.save_card
        && order.is_paid()
        && session.browser_id() == Some(order.browser_id)
        && let Some(customer) = ledger::customer_of_order(&mut conn, order.id).await?
    {
        session.set_customer(&customer)?;
    }
    Ok(receipt(&order))
}

/// 303 to the order's confirmation page.
fn receipt(order: &Order) -> web::Redirect {
    web::Redirect::to(format!("/orders/{}", order.token)).see_other()
}

#[derive(Deserialize)]
pub struct CancelQuery {
    order: Option<String>,
}

/// `GET /checkout/cancel`: Stripe's "back" link, the shopper gave up paying.
/// Expire the session so it cannot be paid later, release the stock, and
/// return to the intact cart.
pub async fn cancel(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<CancelQuery>,
) -> Result<web::Redirect, AppError> {
    let order = match query.order.as_deref().and_then(OrderToken::parse) {
        Some(token) => order_store::find_by_token(&mut *state.db.get().await?, &token).await?,
        None => None,
    };
    let owned = order.filter(|o| Some(o.browser_id) == session.browser_id());
    let back_to = match &owned {
        Some(order) if order.cart_id.is_none() => "/",
        _ => "/cart",
    };
    let (level, message) = match &owned {
        Some(order) => {
            match start::cancel_checkout(&state.stripe, &state.db, order, Source::CancelPage)
                .await?
            {
                // Paid in another tab before the shopper came back, or a
                // payment submitted that settles later: the receipt says so.
                Cancelled::Paid | Cancelled::Processing => return Ok(receipt(order)),
                Cancelled::Closed => (
                    FlashLevel::Success,
                    "Checkout cancelled: nothing was charged, and your cart is just as you left it.",
                ),
                Cancelled::Unknown => (
                    FlashLevel::Error,
                    "Your cart is just as you left it. We could not reach our payment provider to \
                 close the payment page: if you did pay, the order will show under Your orders.",
                ),
            }
        }
        None => (
            FlashLevel::Success,
            "Checkout cancelled: your cart is just as you left it.",
        ),
    };
    session.flash(level, message)?;
    Ok(web::Redirect::to(back_to).see_other())
}
