//! Shared pieces of the HTML front end: the page layout, CSRF-checked forms
//! and responses.

pub mod assets;
mod form;

pub use form::CsrfForm;

use actix_web::http::StatusCode;
use actix_web::{CustomizeResponder, Either, Responder, web};
use diesel_async::AsyncPgConnection;

use crate::cart;
use crate::error::AppError;
use crate::session::{Flash, TypedSession};
use crate::startup::AppState;

/// What the base layout needs on every page.
#[derive(Debug, Default)]
pub struct Layout {
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    pub cart_count: i64,
    /// Payments go to Stripe's test mode or the simulator: show a banner.
    pub test_mode: bool,
}

impl Layout {
    /// The stylesheet's versioned URL.
    pub fn stylesheet(&self) -> &'static str {
        assets::stylesheet_url()
    }

    /// With the cart count the session remembers: no query.
    pub fn new(state: &AppState, session: &TypedSession) -> Result<Layout, AppError> {
        Ok(Layout {
            csrf_token: session.csrf_token()?,
            flashes: session.take_flashes(),
            cart_count: session.cart_count(),
            test_mode: state.payments.is_test_mode(),
        })
    }

    /// With the cart count read from the database (and remembered in the
    /// session): for the order pages, after a payment emptied the cart.
    pub async fn with_fresh_cart_count(
        state: &AppState,
        session: &TypedSession,
        conn: &mut AsyncPgConnection,
    ) -> Result<Layout, AppError> {
        let cart_count = match session.cart_id() {
            Some(cart_id) => cart::models::item_count(conn, cart_id).await?,
            None => 0,
        };
        session.set_cart_count(cart_count)?;
        Layout::new(state, session)
    }
}

/// A form handler either redirects (303, after success) or re-renders its page
/// with a 4xx status and a message.
pub type FormResponse<P> = Result<Either<web::Redirect, CustomizeResponder<P>>, AppError>;

pub fn see_other<P>(location: impl Into<String>) -> FormResponse<P> {
    let location: String = location.into();
    Ok(Either::Left(web::Redirect::to(location).see_other()))
}

pub fn rerender<P: Responder>(page: P, status: StatusCode) -> FormResponse<P> {
    Ok(Either::Right(page.customize().with_status(status)))
}
