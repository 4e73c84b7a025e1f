//! The cart's pages and forms: show the cart, add to it from a product
//! page, change or remove a line. Refusals are told in the shopper's words
//! on the page they came from.

use actix_web::http::StatusCode;
use actix_web::web;
use serde::Deserialize;
use uuid::Uuid;

use super::domain::{MAX_LINE_QUANTITY, Quantity, Refusal};
use super::store::{AddLine, SetQuantity};
use super::writes::CartError;
use crate::ids::{CartItemId, ProductSlug};
use crate::state::AppState;
use crate::web::{
    AppError, CartPage, CsrfForm, FlashLevel, FormResponse, Layout, ProductForm, ProductPage,
    TypedSession, product_not_found, see_other,
};

/// The message shown to the shopper on the re-rendered page.
fn refusal_message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::ProductNotFound => "That product doesn't exist or is no longer available.".into(),
        Refusal::ItemNotFound => "That item is no longer in your cart.".into(),
        Refusal::NotEnoughStock {
            product,
            available: 0,
            ..
        } => format!("Sorry, {product} is sold out."),
        Refusal::NotEnoughStock {
            product,
            available,
            in_cart: 0,
        } => format!("Sorry, only {available} of {product} are in stock."),
        Refusal::NotEnoughStock {
            product,
            available,
            in_cart,
        } => format!(
            "Sorry, only {available} of {product} are in stock, and {in_cart} are already in your cart."
        ),
        Refusal::LineLimit { in_cart } => format!(
            "You can have at most {MAX_LINE_QUANTITY} of one item in your cart (you have {in_cart})."
        ),
        Refusal::CurrencyMismatch => {
            "That product is priced in a different currency from your cart. Please check out separately.".into()
        }
        Refusal::Changed => "Your cart or that product changed just now. Please try again.".into(),
    }
}

/// `GET /cart`.
pub async fn show(state: web::Data<AppState>, session: TypedSession) -> Result<CartPage, AppError> {
    CartPage::load(&state.db, &session, state.test_mode()).await
}

/// The product page again, with what was wrong with its form.
async fn product_page_again(
    state: &AppState,
    session: &TypedSession,
    form: &ProductForm,
    message: String,
    status: StatusCode,
) -> FormResponse<ProductPage> {
    let layout = Layout::new(session, state.test_mode())?;
    form.rerender(&state.catalog, &state.reads, layout, message, status)
        .await
}

/// `POST /cart/items`: Add to cart, from a product page.
pub async fn add_item(
    state: web::Data<AppState>,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> FormResponse<ProductPage> {
    let quantity = match Quantity::parse_positive(&form.quantity) {
        Ok(quantity) => quantity,
        Err(message) => {
            return product_page_again(&state, &session, &form, message, StatusCode::BAD_REQUEST)
                .await;
        }
    };
    let slug = ProductSlug::parse(&form.product).ok_or_else(product_not_found)?;
    // A new cart gets its row with its first line.
    let cart_id = session.cart_id().unwrap_or_else(Uuid::new_v4);
    let added = state
        .cart
        .add(AddLine {
            cart_id,
            slug,
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
        Err(CartError::Refused(Refusal::ProductNotFound)) => Err(product_not_found()),
        Err(CartError::Refused(refusal)) => {
            let message = refusal_message(&refusal);
            product_page_again(&state, &session, &form, message, StatusCode::CONFLICT).await
        }
        Err(CartError::Database(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct UpdateItemForm {
    #[serde(default)]
    quantity: String,
}

/// `POST /cart/items/{id}`: a line's new quantity (0 removes it).
pub async fn update_item(
    state: web::Data<AppState>,
    session: TypedSession,
    item_id: web::Path<String>,
    CsrfForm(form): CsrfForm<UpdateItemForm>,
) -> FormResponse<CartPage> {
    let item_id = CartItemId::parse(&item_id).ok_or_else(item_not_found)?;
    let cart_id = session.cart_id().ok_or_else(item_not_found)?;
    let test_mode = state.test_mode();
    let quantity = match Quantity::parse_allowing_zero(&form.quantity) {
        Ok(quantity) => quantity,
        Err(message) => {
            return CartPage::with_error(
                &state.db,
                &session,
                test_mode,
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
        Err(CartError::Refused(Refusal::ItemNotFound)) => Err(item_not_found()),
        Err(CartError::Refused(refusal)) => {
            CartPage::with_error(
                &state.db,
                &session,
                test_mode,
                item_id,
                refusal_message(&refusal),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(CartError::Database(e)) => Err(e.into()),
    }
}

/// `POST /cart/items/{id}/delete`.
pub async fn remove_item(
    state: web::Data<AppState>,
    session: TypedSession,
    item_id: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> FormResponse<CartPage> {
    let item_id = CartItemId::parse(&item_id).ok_or_else(item_not_found)?;
    let cart_id = session.cart_id().ok_or_else(item_not_found)?;
    match state.cart.remove(cart_id, item_id).await {
        Ok(name) => {
            session.flash(
                FlashLevel::Success,
                format!("Removed {name} from your cart."),
            )?;
            see_other("/cart")
        }
        Err(CartError::Database(e)) => Err(e.into()),
        Err(CartError::Refused(_)) => Err(item_not_found()),
    }
}

fn item_not_found() -> AppError {
    AppError::NotFound("That item is no longer in your cart.".into())
}
