//! The shopper's order pages: a receipt (`/orders/{token}`), the orders
//! placed from this browser (`/orders`), and "Email me my orders": a link,
//! signed and expiring, to the orders paid with an email address, on any
//! device (`/orders/by-email/{token}`).

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{CustomizeResponder, Either, HttpRequest, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use diesel_async::AsyncPgConnection;
use serde::Deserialize;

use super::domain::{CheckoutSummary, Order, OrderItem, OrderStatus, StripeTotals};
use super::store;
use crate::admin::orders::domain::{RefundLine, Shipment};
use crate::admin::orders::{refunds, store as back_office};
use crate::ids::{OrderToken, OrdersLinkToken};
use crate::mail::domain::{AddressError, EmailAddress, LinkError};
use crate::mail::orders_link::{self, LinkRequest};
use crate::money::Currency;
use crate::state::AppState;
use crate::web::rate_limit::RateLimiter;
use crate::web::{
    AppError, CsrfForm, FlashLevel, FormResponse, Layout, TypedSession, rerender, see_other,
};

/// How an order's status reads to shoppers and staff: a pending order whose
/// page was completed is waiting for its payment (a bank debit) to settle.
pub fn order_status_label(status: &OrderStatus, payment_processing: bool) -> &'static str {
    match payment_processing {
        true => "Payment processing",
        false => status_label(status),
    }
}

/// How a status reads.
pub fn status_label(status: &OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Awaiting payment",
        OrderStatus::Paid => "Paid",
        OrderStatus::Expired => "Expired",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Failed => "Payment failed",
        OrderStatus::Refunded => "Refunded",
        OrderStatus::PartiallyRefunded => "Partially refunded",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/show.html")]
pub struct OrderPage {
    layout: Layout,
    order: Order,
    items: Vec<OrderItem>,
    /// Refunds Stripe has taken (made or under way), from the back office.
    refunds: Vec<RefundLine>,
    shipment: Option<Shipment>,
    /// Stripe reported a payment we could not accept as is (an amount that
    /// does not match): a person is looking at it.
    under_review: bool,
    summary: CheckoutSummary,
}

impl OrderPage {
    fn currency(&self) -> Currency {
        self.order.currency()
    }

    fn totals(&self) -> Option<StripeTotals> {
        self.summary.totals
    }

    fn promotion_code(&self) -> Option<&str> {
        self.summary.promotion_code.as_deref()
    }

    fn ship_to(&self) -> Vec<String> {
        self.summary.ship_to.clone()
    }

    fn shipping_method(&self) -> Option<String> {
        self.summary.shipping_method.clone()
    }

    fn tax_included(&self) -> bool {
        self.summary.tax_included
    }
}

/// `GET /orders/{token}`: the confirmation and receipt. The token in the URL
/// is the only key to it.
pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
    token: web::Path<String>,
) -> Result<OrderPage, AppError> {
    let not_found = || AppError::NotFound("We couldn't find that order.".into());
    let token = OrderToken::parse(&token).ok_or_else(not_found)?;
    let mut conn = state.db.get().await?;
    let order = store::find_by_token(&mut conn, &token)
        .await?
        .ok_or_else(not_found)?;
    let items = store::items(&mut conn, &order).await?;
    let refunds = refunds::lines(&mut conn, order.id, order.currency())
        .await?
        .into_iter()
        .filter(|refund| refund.status.holds_money() && refund.stripe_refund_id.is_some())
        .collect();
    let shipment = back_office::shipment(&mut conn, order.id).await?;
    let under_review = store::has_open_issue(&mut conn, order.id).await?;
    let summary = store::checkout_summary(&mut conn, &order).await?;
    Ok(OrderPage {
        layout: Layout::with_fresh_cart_count(&session, state.test_mode(), &mut conn).await?,
        order,
        items,
        refunds,
        shipment,
        under_review,
        summary,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/index.html")]
pub struct OrdersPage {
    layout: Layout,
    orders: Vec<OrderRow>,
    /// This browser pays with a card the shopper saved: offer to forget it.
    remembers_card: bool,
    /// The "Email me my orders" form as submitted, and what was wrong with it.
    email: String,
    email_error: Option<String>,
}

impl OrdersPage {
    async fn load(
        state: &AppState,
        session: &TypedSession,
        email: String,
        email_error: Option<String>,
    ) -> Result<OrdersPage, AppError> {
        let mut conn = state.db.get().await?;
        let orders = match session.browser_id() {
            Some(browser_id) => store::list_for_browser(&mut conn, browser_id).await?,
            None => Vec::new(),
        };
        Ok(OrdersPage {
            layout: Layout::with_fresh_cart_count(session, state.test_mode(), &mut conn).await?,
            orders: OrderRow::load(&mut conn, orders).await?,
            remembers_card: session.customer().is_some(),
            email,
            email_error,
        })
    }
}

/// An order in a list, with the lines of its total.
pub struct OrderRow {
    order: Order,
    /// "Items $48.00", "Discount −$4.80", "Shipping $15.00", "Tax $4.22", as
    /// Stripe computed them (none before its page was completed).
    lines: Vec<String>,
}

impl OrderRow {
    async fn load(
        conn: &mut AsyncPgConnection,
        orders: Vec<Order>,
    ) -> Result<Vec<OrderRow>, AppError> {
        let checkouts = store::checkouts_of(conn, &orders).await?;
        let rows = orders
            .into_iter()
            .map(|order| {
                let totals = checkouts
                    .iter()
                    .find(|(id, _)| *id == order.id)
                    .and_then(|(_, checkout)| checkout.totals(&order));
                let lines = totals.map_or_else(Vec::new, |totals| total_lines(&order, &totals));
                OrderRow { order, lines }
            })
            .collect();
        Ok(rows)
    }
}

fn total_lines(order: &Order, totals: &StripeTotals) -> Vec<String> {
    let mut lines = vec![format!("Items {}", totals.subtotal)];
    if totals.discount.minor() > 0 {
        lines.push(format!("Discount −{}", totals.discount));
    }
    if totals.shipping.minor() > 0 {
        lines.push(format!("Shipping {}", totals.shipping));
    }
    if totals.tax.minor() > 0 {
        lines.push(match order.tax_behavior().prices_include_tax() {
            true => format!("Including tax {}", totals.tax),
            false => format!("Tax {}", totals.tax),
        });
    }
    lines
}

/// `GET /orders`: the orders placed from this browser.
pub async fn index(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<OrdersPage, AppError> {
    OrdersPage::load(&state, &session, String::new(), None).await
}

#[derive(Deserialize)]
pub struct EmailLinkForm {
    #[serde(default)]
    email: String,
}

/// `POST /orders/email-link`: emails a link to the orders paid with an
/// address. The answer is the same whether or not it has any (and so is
/// the work behind it: see `mail::orders_link`).
pub async fn email_link(
    state: web::Data<AppState>,
    limiter: web::Data<RateLimiter>,
    req: HttpRequest,
    session: TypedSession,
    CsrfForm(form): CsrfForm<EmailLinkForm>,
) -> FormResponse<OrdersPage> {
    let typed = form.email.trim();
    let email = match EmailAddress::parse(typed) {
        Ok(email) => email,
        Err(error) => {
            let message = match error {
                AddressError::Empty => "Please enter your email address.",
                AddressError::TooLong => "That email address is too long.",
                AddressError::Malformed => "Please enter an email address like name@example.com.",
            };
            let page = OrdersPage::load(&state, &session, typed.to_owned(), Some(message.into()));
            return rerender(page.await?, StatusCode::BAD_REQUEST);
        }
    };
    let client = limiter
        .client(&req)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let requested = {
        let mut conn = state.db.get().await?;
        orders_link::request(&mut conn, &state.orders_link_key, &client, &email).await?
    };
    match requested {
        LinkRequest::Queued => {
            session.flash(
                FlashLevel::Success,
                format!(
                    "If any orders were paid with {email}, a link to them is on its way. \
                     It works for 24 hours. Nothing after a few minutes? Check the address \
                     and your spam folder."
                ),
            )?;
            see_other("/orders")
        }
        LinkRequest::Limited(wait) => {
            let minutes = wait.as_secs().div_ceil(60);
            let message = format!(
                "You've asked for several links in a short time. Please try again in \
                 {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let page = OrdersPage::load(&state, &session, typed.to_owned(), Some(message)).await?;
            Ok(Either::Right(
                page.customize()
                    .with_status(StatusCode::TOO_MANY_REQUESTS)
                    .insert_header((RETRY_AFTER, wait.as_secs().to_string())),
            ))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/by_email.html")]
pub struct EmailOrdersPage {
    layout: Layout,
    /// The address the link is for, when it works.
    email: Option<EmailAddress>,
    orders: Vec<OrderRow>,
    /// Why the link does not work.
    problem: Option<&'static str>,
}

/// `GET /orders/by-email/{token}`: the orders paid with the address a
/// signed link names, until it expires. A changed or made-up link is a 404,
/// an expired one a 410, each with a way to ask for a new one.
pub async fn by_email(
    state: web::Data<AppState>,
    session: TypedSession,
    token: web::Path<String>,
) -> Result<CustomizeResponder<EmailOrdersPage>, AppError> {
    let verified = OrdersLinkToken::parse(&token)
        .ok_or(LinkError::Invalid)
        .and_then(|token| state.orders_link_key.verify(&token, chrono::Utc::now()));
    let mut conn = state.db.get().await?;
    let layout = Layout::with_fresh_cart_count(&session, state.test_mode(), &mut conn).await?;
    let (page, status) = match verified {
        Ok(email) => {
            let orders = store::list_paid_for_email(&mut conn, &email.normalized()).await?;
            let orders = OrderRow::load(&mut conn, orders).await?;
            let page = EmailOrdersPage {
                layout,
                email: Some(email),
                orders,
                problem: None,
            };
            (page, StatusCode::OK)
        }
        Err(error) => {
            let (problem, status) = match error {
                LinkError::Expired => (
                    "This link has expired: links to your orders work for 24 hours.",
                    StatusCode::GONE,
                ),
                LinkError::Invalid => (
                    "This link doesn't work: it may have been cut short or changed.",
                    StatusCode::NOT_FOUND,
                ),
            };
            let page = EmailOrdersPage {
                layout,
                email: None,
                orders: Vec::new(),
                problem: Some(problem),
            };
            (page, status)
        }
    };
    Ok(page.customize().with_status(status))
}

/// `POST /orders/forget-card`: this browser stops paying with the card its
/// shopper saved (on a shared computer, the next person would otherwise
/// pay as them).
pub async fn forget_card(
    session: TypedSession,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> FormResponse<OrdersPage> {
    session.forget_customer();
    session.flash(
        FlashLevel::Success,
        "This browser has forgotten your saved card: your next checkout asks for a card again.",
    )?;
    see_other("/orders")
}
