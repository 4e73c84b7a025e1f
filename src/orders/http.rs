//! The shopper's order pages: a receipt (`/orders/{token}`) and the orders
//! placed from this browser (`/orders`).

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::domain::{Order, OrderCheckout, OrderItem, OrderStatus, ShippingOption, StripeTotals};
use super::store;
use crate::ids::OrderToken;
use crate::money::Currency;
use crate::state::AppState;
use crate::web::{AppError, CsrfForm, FlashLevel, FormResponse, Layout, TypedSession, see_other};

/// How an order's status reads to shoppers.
pub fn status_label(order: &Order) -> &'static str {
    match order.status {
        OrderStatus::Pending if order.payment_processing() => "Payment processing",
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
    /// Stripe reported a payment we could not accept as is (an amount that
    /// does not match): a person is looking at it.
    under_review: bool,
    /// What Stripe reported when the shopper completed its page: the lines,
    /// the promotion code, the address.
    checkout: Option<OrderCheckout>,
    /// The shipping option the shopper chose.
    shipping: Option<ShippingOption>,
}

impl OrderPage {
    fn currency(&self) -> Currency {
        self.order.currency()
    }

    /// Subtotal, discount, shipping, tax and total, as Stripe computed them.
    fn totals(&self) -> Option<StripeTotals> {
        self.checkout.as_ref()?.totals(&self.order)
    }

    fn promotion_code(&self) -> Option<&str> {
        self.checkout.as_ref()?.promotion_code.as_deref()
    }

    /// The address as on a parcel, one line each (empty if it does not ship).
    fn ship_to(&self) -> Vec<String> {
        self.checkout
            .as_ref()
            .map(|checkout| checkout.ship_to.lines())
            .unwrap_or_default()
    }

    /// "Standard, 3–5 business days".
    fn shipping_method(&self) -> Option<String> {
        let option = self.shipping.as_ref()?;
        Some(match option.delivery() {
            Some(delivery) => format!("{}, {delivery}", option.display_name),
            None => option.display_name.clone(),
        })
    }

    /// Whether the tax shown is part of the prices rather than added.
    fn tax_included(&self) -> bool {
        self.order.tax_behavior().prices_include_tax()
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
    let under_review = store::has_open_issue(&mut conn, order.id).await?;
    let checkout = store::checkout(&mut conn, &order).await?;
    let shipping = store::shipping_options(&mut conn, &order)
        .await?
        .into_iter()
        .find(|option| option.chosen);
    Ok(OrderPage {
        layout: Layout::with_fresh_cart_count(&session, state.test_mode(), &mut conn).await?,
        order,
        items,
        under_review,
        checkout,
        shipping,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/index.html")]
pub struct OrdersPage {
    layout: Layout,
    orders: Vec<Order>,
    /// What Stripe reported for the completed ones, by order id.
    checkouts: Vec<(i64, OrderCheckout)>,
    /// This browser pays with a card the shopper saved: offer to forget it.
    remembers_card: bool,
}

impl OrdersPage {
    /// The lines of an order's total, as Stripe computed them: "Items
    /// $48.00", "Discount −$4.80", "Shipping $15.00", "Tax $4.22" (none
    /// before its page was completed).
    fn lines_of(&self, order: &Order) -> Vec<String> {
        let Some(totals) = self
            .checkouts
            .iter()
            .find(|(id, _)| *id == order.id)
            .and_then(|(_, checkout)| checkout.totals(order))
        else {
            return Vec::new();
        };
        let mut lines = vec![format!("Items {}", totals.subtotal)];
        if totals.discount.minor() > 0 {
            lines.push(format!("Discount −{}", totals.discount));
        }
        if totals.shipping.minor() > 0 {
            lines.push(format!("Shipping {}", totals.shipping));
        }
        if totals.tax.minor() > 0 {
            let included = order.tax_behavior().prices_include_tax();
            lines.push(match included {
                true => format!("Including tax {}", totals.tax),
                false => format!("Tax {}", totals.tax),
            });
        }
        lines
    }
}

/// `GET /orders`: the orders placed from this browser.
pub async fn index(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<OrdersPage, AppError> {
    let mut conn = state.db.get().await?;
    let orders = match session.browser_id() {
        Some(browser_id) => store::list_for_browser(&mut conn, browser_id).await?,
        None => Vec::new(),
    };
    let checkouts = store::checkouts_of(&mut conn, &orders).await?;
    Ok(OrdersPage {
        layout: Layout::with_fresh_cart_count(&session, state.test_mode(), &mut conn).await?,
        orders,
        checkouts,
        remembers_card: session.customer().is_some(),
    })
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
