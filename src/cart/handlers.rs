use actix_web::http::StatusCode;
use actix_web::{get, post, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::domain::{CartLine, CartSummary, Quantity};
use super::models::{self, AddLine, CartError, SetQuantity};
use crate::catalog::handlers::{ProductForm, ProductPage, product_not_found};
use crate::error::AppError;
use crate::session::{FlashLevel, TypedSession};
use crate::startup::AppState;
use crate::web::{CsrfForm, FormResponse, Layout, rerender, see_other};

#[derive(Template, WebTemplate)]
#[template(path = "cart/show.html")]
pub struct CartPage {
    layout: Layout,
    cart: CartSummary,
    /// A problem with a submitted line form: (cart item id, message).
    error: Option<(i64, String)>,
    /// A problem with the whole cart (checkout could not start).
    alert: Option<String>,
}

impl CartPage {
    pub async fn load(state: &AppState, session: &TypedSession) -> Result<CartPage, AppError> {
        let lines = match session.cart_id() {
            Some(cart_id) => models::lines(&mut *state.db.get().await?, cart_id).await?,
            None => Vec::new(),
        };
        session.set_cart_count(lines.iter().map(|line| i64::from(line.quantity)).sum())?;
        Ok(CartPage {
            layout: Layout::new(state, session)?,
            cart: CartSummary::new(lines).map_err(anyhow::Error::from)?,
            error: None,
            alert: None,
        })
    }

    pub fn lines(&self) -> impl Iterator<Item = &CartLine> {
        self.cart.lines.iter().map(|priced| &priced.line)
    }

    /// The error message for this cart line's form, if any.
    fn error_for(&self, item_id: &i64) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(id, _)| id == item_id)
            .map(|(_, message)| message.as_str())
    }

    pub async fn with_error(
        state: &AppState,
        session: &TypedSession,
        item_id: i64,
        message: String,
        status: StatusCode,
    ) -> FormResponse<CartPage> {
        let mut page = CartPage::load(state, session).await?;
        page.error = Some((item_id, message));
        rerender(page, status)
    }

    pub async fn with_alert(
        state: &AppState,
        session: &TypedSession,
        message: String,
        status: StatusCode,
    ) -> FormResponse<CartPage> {
        let mut page = CartPage::load(state, session).await?;
        page.alert = Some(message);
        rerender(page, status)
    }
}

#[get("/cart")]
pub async fn show(state: web::Data<AppState>, session: TypedSession) -> Result<CartPage, AppError> {
    CartPage::load(&state, &session).await
}

#[post("/cart/items")]
pub async fn add_item(
    state: web::Data<AppState>,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> FormResponse<ProductPage> {
    let quantity = match Quantity::parse_positive(&form.quantity) {
        Ok(quantity) => quantity,
        Err(message) => {
            return form
                .rerender(&state, &session, message, StatusCode::BAD_REQUEST)
                .await;
        }
    };
    // A new cart gets its row with its first line.
    let cart_id = session.cart_id().unwrap_or_else(Uuid::new_v4);
    let added = state
        .cart
        .add(AddLine {
            cart_id,
            slug: form.product.clone(),
            quantity,
        })
        .await;
    match added {
        Ok(name) => {
            session.set_cart_id(cart_id)?;
            let units = quantity.get();
            session.flash(
                FlashLevel::Success,
                format!("Added {units} × {name} to your cart."),
            )?;
            see_other("/cart")
        }
        Err(CartError::ProductNotFound) => Err(product_not_found()),
        Err(CartError::Database(e)) => Err(e.into()),
        Err(e) => {
            form.rerender(&state, &session, e.message(), StatusCode::CONFLICT)
                .await
        }
    }
}

#[derive(Deserialize)]
pub struct UpdateItemForm {
    #[serde(default)]
    quantity: String,
}

#[post("/cart/items/{id}")]
pub async fn update_item(
    state: web::Data<AppState>,
    session: TypedSession,
    item_id: web::Path<String>,
    CsrfForm(form): CsrfForm<UpdateItemForm>,
) -> FormResponse<CartPage> {
    let item_id = parse_item_id(&item_id)?;
    let cart_id = session.cart_id().ok_or_else(item_not_found)?;
    let quantity = match Quantity::parse_allowing_zero(&form.quantity) {
        Ok(quantity) => quantity,
        Err(message) => {
            return CartPage::with_error(
                &state,
                &session,
                item_id,
                message,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let updated = state
        .cart
        .set_quantity(SetQuantity {
            cart_id,
            item_id,
            quantity,
        })
        .await;
    match updated {
        Ok(name) => {
            let message = match quantity.get() {
                0 => format!("Removed {name} from your cart."),
                units => format!("Updated {name} to {units}."),
            };
            session.flash(FlashLevel::Success, message)?;
            see_other("/cart")
        }
        Err(CartError::ItemNotFound) => Err(item_not_found()),
        Err(CartError::Database(e)) => Err(e.into()),
        Err(e) => {
            CartPage::with_error(&state, &session, item_id, e.message(), StatusCode::CONFLICT).await
        }
    }
}

#[post("/cart/items/{id}/delete")]
pub async fn remove_item(
    state: web::Data<AppState>,
    session: TypedSession,
    item_id: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> FormResponse<CartPage> {
    let item_id = parse_item_id(&item_id)?;
    let cart_id = session.cart_id().ok_or_else(item_not_found)?;
    let removed = models::remove(&mut *state.db.get().await?, cart_id, item_id).await;
    match removed {
        Ok(name) => {
            session.flash(
                FlashLevel::Success,
                format!("Removed {name} from your cart."),
            )?;
            see_other("/cart")
        }
        Err(CartError::Database(e)) => Err(e.into()),
        Err(_) => Err(item_not_found()),
    }
}

fn parse_item_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| item_not_found())
}

fn item_not_found() -> AppError {
    AppError::NotFound("That item is no longer in your cart.".into())
}
