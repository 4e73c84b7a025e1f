use actix_web::http::StatusCode;
use actix_web::{get, post, web};
use serde::Deserialize;

use super::payments::{self, Cancelled, CheckoutError, CheckoutSource, Payer};
use crate::cart::domain::{MIXED_CURRENCIES, Quantity, mixed_currencies};
use crate::cart::handlers::CartPage;
use crate::cart::models as cart_models;
use crate::catalog::handlers::{ProductForm, ProductPage, product_not_found};
use crate::catalog::models::Product;
use crate::error::AppError;
use crate::orders::models::{CreateOrderError, Order, OrderLine};
use crate::session::{FlashLevel, TypedSession};
use crate::startup::AppState;
use crate::web::{CsrfForm, FormResponse, see_other};

/// What the shopper is told when Stripe did not start the payment: an
/// outage (or contention, or an answer too late) passes, a refusal (our
/// request was wrong) needs us.
fn stripe_failure(error: &CheckoutError) -> (String, StatusCode) {
    let passing = match error {
        CheckoutError::Stripe(error) => error.is_outage() || error.status() == Some(409),
        _ => true,
    };
    if passing {
        (
            "We couldn't reach our payment provider just now, so nothing was charged. \
             Please try again in a moment."
                .into(),
            StatusCode::SERVICE_UNAVAILABLE,
        )
    } else {
        (
            "Our payment provider refused to start this payment, so nothing was charged. \
             We have been alerted; please try again later."
                .into(),
            StatusCode::BAD_GATEWAY,
        )
    }
}

/// The "Save my card for next time" checkbox (present when ticked).
#[derive(Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    save_card: Option<String>,
}

/// Checkout of the whole cart: 303 to Stripe's payment page.
#[post("/checkout")]
pub async fn checkout_cart(
    state: web::Data<AppState>,
    session: TypedSession,
    CsrfForm(form): CsrfForm<CheckoutForm>,
) -> FormResponse<CartPage> {
    let cart_id = session.cart_id();
    let lines = match cart_id {
        Some(cart_id) => cart_models::lines(&mut *state.db.get().await?, cart_id).await?,
        None => Vec::new(),
    };
    let (Some(cart_id), false) = (cart_id, lines.is_empty()) else {
        session.flash(FlashLevel::Error, "Your cart is empty.")?;
        return see_other("/cart");
    };
    if let Some(line) = lines.iter().find(|line| !line.purchasable()) {
        let message = format!(
            "{} is no longer available. Please remove it to check out.",
            line.product.name
        );
        return CartPage::with_error(
            &state,
            &session,
            line.item_id,
            message,
            StatusCode::CONFLICT,
        )
        .await;
    }
    if mixed_currencies(&lines) {
        return CartPage::with_alert(
            &state,
            &session,
            MIXED_CURRENCIES.into(),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let order_lines: Vec<OrderLine> = lines
        .iter()
        .map(|line| OrderLine {
            product_id: line.product.id,
            quantity: line.quantity,
        })
        .collect();
    let browser_id = session.ensure_browser_id()?;
    let customer = session.customer();
    let started = payments::start_checkout(
        &state.payments,
        &state.db,
        browser_id,
        CheckoutSource::Cart(cart_id),
        &order_lines,
        Payer {
            customer: customer.as_deref(),
            save_card: form.save_card.is_some(),
        },
    )
    .await;
    match started {
        Ok(url) => see_other(url),
        Err(CheckoutError::Order(CreateOrderError::Database(e))) => Err(e.into()),
        Err(CheckoutError::Order(CreateOrderError::Money(e))) => Err(anyhow::Error::from(e).into()),
        Err(CheckoutError::Order(error)) => {
            let message = order_error_message(&error);
            CartPage::with_alert(&state, &session, message, StatusCode::CONFLICT).await
        }
        Err(error @ (CheckoutError::Stripe(_) | CheckoutError::TooLate)) => {
            let (message, status) = stripe_failure(&error);
            CartPage::with_alert(&state, &session, message, status).await
        }
        Err(CheckoutError::Unexpected(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ExpressForm {
    #[serde(flatten)]
    choice: ProductForm,
    #[serde(default)]
    save_card: Option<String>,
}

/// "Buy now" on a product page: checkout of one product, card only, without
/// touching the cart.
#[post("/checkout/express")]
pub async fn checkout_express(
    state: web::Data<AppState>,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ExpressForm>,
) -> FormResponse<ProductPage> {
    let choice = &form.choice;
    let quantity = match Quantity::parse_positive(&choice.quantity) {
        Ok(quantity) => quantity,
        Err(message) => {
            return choice
                .rerender(&state, &session, message, StatusCode::BAD_REQUEST)
                .await;
        }
    };
    let product = Product::find_active(&mut *state.db.get().await?, &choice.product)
        .await?
        .ok_or_else(product_not_found)?;
    let browser_id = session.ensure_browser_id()?;
    let customer = session.customer();
    let line = OrderLine {
        product_id: product.id,
        quantity: quantity.get(),
    };
    let started = payments::start_checkout(
        &state.payments,
        &state.db,
        browser_id,
        CheckoutSource::Express,
        &[line],
        Payer {
            customer: customer.as_deref(),
            save_card: form.save_card.is_some(),
        },
    )
    .await;
    match started {
        Ok(url) => see_other(url),
        Err(CheckoutError::Order(CreateOrderError::Database(e))) => Err(e.into()),
        Err(CheckoutError::Order(error)) => {
            choice
                .rerender(
                    &state,
                    &session,
                    order_error_message(&error),
                    StatusCode::CONFLICT,
                )
                .await
        }
        Err(error @ (CheckoutError::Stripe(_) | CheckoutError::TooLate)) => {
            let (message, status) = stripe_failure(&error);
            choice.rerender(&state, &session, message, status).await
        }
        Err(CheckoutError::Unexpected(e)) => Err(e.into()),
    }
}

/// The shopper-facing reason an order could not be created.
fn order_error_message(error: &CreateOrderError) -> String {
    match error {
        CreateOrderError::OutOfStock { name, available: 0 } => {
            format!("Sorry, {name} has just sold out.")
        }
        CreateOrderError::OutOfStock { name, available } => {
            format!("Sorry, only {available} of {name} are left. Please lower the quantity.")
        }
        CreateOrderError::Unavailable(name) => format!("{name} is no longer available."),
        CreateOrderError::Empty => "Your cart is empty.".into(),
        CreateOrderError::BelowMinimum(minimum) => {
            format!("Orders start at {minimum}: please add a little more.")
        }
        CreateOrderError::Money(_) | CreateOrderError::Database(_) => {
            "Something went wrong.".into()
        }
    }
}

#[derive(Deserialize)]
pub struct SuccessQuery {
    session_id: Option<String>,
}

/// Stripe's return page: confirm with Stripe, fulfil if paid (the webhook may
/// have already), then show the order.
#[get("/checkout/success")]
pub async fn success(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<SuccessQuery>,
) -> Result<web::Redirect, AppError> {
    let not_found = || AppError::NotFound("We couldn't find that checkout.".into());
    let session_id = query
        .session_id
        .as_deref()
        .filter(|id| id.starts_with("cs_") && id.len() <= 255)
        .ok_or_else(not_found)?;
    let mut conn = state.db.get().await?;
    let mut order = Order::find_by_session(&mut conn, session_id)
        .await?
        .ok_or_else(not_found)?;
    drop(conn);
    // The webhook usually wins this race; if Stripe cannot be asked right now,
    // the order page says the payment is being confirmed.
    match state
        .payments
        .client
        .retrieve_checkout_session(session_id)
        .await
    {
        Ok(checkout) => {
            let mut conn = state.db.get().await?;
            if let (Some(updated), _) =
                payments::apply_session(&mut conn, &checkout, "success_page").await?
            {
                order = updated;
            }
            // This browser pays as that customer next time, if the order is
            // its own (whoever holds a session id can open this page).
            if let Some(customer) = &checkout.customer
                && session.browser_id() == Some(order.browser_id)
            {
                session.set_customer(customer.id())?;
            }
        }
        Err(error) => {
            tracing::warn!(%error, order.id = order.id, "could not confirm the checkout session")
        }
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

/// Stripe's "back" link: the shopper gave up paying. Expire the session so
/// it cannot be paid later, release the stock, and return to the intact cart.
#[get("/checkout/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<CancelQuery>,
) -> Result<web::Redirect, AppError> {
    let mut conn = state.db.get().await?;
    let order = match query.order.as_deref() {
        Some(token) => Order::find_by_token(&mut conn, token).await?,
        None => None,
    };
    drop(conn);
    let owned = order.filter(|o| Some(o.browser_id) == session.browser_id());
    let back_to = match &owned {
        Some(order) if order.cart_id.is_none() => "/",
        _ => "/cart",
    };
    let (level, message) = match &owned {
        Some(order) => match payments::cancel_checkout(&state.payments, &state.db, order).await? {
            // Paid in another tab before the shopper came back: the receipt.
            Cancelled::Paid => return Ok(receipt(order)),
            Cancelled::Closed => (
                FlashLevel::Success,
                "Checkout cancelled: nothing was charged, and your cart is just as you left it.",
            ),
            Cancelled::Unknown => (
                FlashLevel::Error,
                "Your cart is just as you left it. We could not reach our payment provider to \
                 close the payment page: if you did pay, the order will show under Your orders.",
            ),
        },
        None => (
            FlashLevel::Success,
            "Checkout cancelled: your cart is just as you left it.",
        ),
    };
    session.flash(level, message)?;
    Ok(web::Redirect::to(back_to).see_other())
}
