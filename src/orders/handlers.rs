use actix_web::{get, web};
use askama::Template;
use askama_web::WebTemplate;

use super::models::{Order, OrderItem};
use crate::error::AppError;
use crate::money::Currency;
use crate::session::TypedSession;
use crate::startup::AppState;
use crate::web::Layout;

#[derive(Template, WebTemplate)]
#[template(path = "orders/show.html")]
pub struct OrderPage {
    layout: Layout,
    order: Order,
    items: Vec<OrderItem>,
}

impl OrderPage {
    fn currency(&self) -> Currency {
        self.order.currency()
    }
}

/// The confirmation / receipt. The token in the URL is the only key to it.
#[get("/orders/{token}")]
pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
    token: web::Path<String>,
) -> Result<OrderPage, AppError> {
    let mut conn = state.db.get().await?;
    let order = Order::find_by_token(&mut conn, &token)
        .await?
        .ok_or_else(|| AppError::NotFound("We couldn't find that order.".into()))?;
    let items = order.items(&mut conn).await?;
    Ok(OrderPage {
        layout: Layout::with_fresh_cart_count(&state, &session, &mut conn).await?,
        order,
        items,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/index.html")]
pub struct OrdersPage {
    layout: Layout,
    orders: Vec<Order>,
}

/// Orders placed from this browser.
#[get("/orders")]
pub async fn index(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<OrdersPage, AppError> {
    let mut conn = state.db.get().await?;
    let orders = match session.browser_id() {
        Some(browser_id) => Order::list_for_browser(&mut conn, browser_id).await?,
        None => Vec::new(),
    };
    Ok(OrdersPage {
        layout: Layout::with_fresh_cart_count(&state, &session, &mut conn).await?,
        orders,
    })
}
