//! Shared pieces of the HTML front end: the page layout, the error page,
//! the cookie session, CSRF-checked forms, rate limits, the pages several
//! features render, and form responses. Each takes what it uses (a flag, a
//! pool), never the whole app state.

pub mod assets;
pub mod caching;
mod error;
mod form;
mod meta;
mod pages;
pub mod rate_limit;
mod session;

pub use error::{AppError, ErrorWords, fmt_chain};
pub use form::{CsrfForm, SessionCsrf, csrf_matches, csrf_refused};
pub use meta::{PageMeta, json_ld};
pub use pages::{
    CartPage, MIXED_CURRENCIES, ProductForm, ProductPage, availability_class, availability_label,
    product_not_found,
};
pub use session::{Flash, FlashLevel, TypedSession};

use actix_web::http::StatusCode;
use actix_web::{CustomizeResponder, Either, Responder, web};
use diesel_async::AsyncPgConnection;

use crate::cart;

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
    pub fn new(session: &TypedSession, test_mode: bool) -> Result<Layout, AppError> {
        Ok(Layout {
            csrf_token: session.csrf_token()?,
            flashes: session.take_flashes(),
            cart_count: session.cart_count(),
            test_mode,
        })
    }

    /// With the cart count read from the database (and remembered in the
    /// session): for the order pages, after a payment emptied the cart.
    pub async fn with_fresh_cart_count(
        session: &TypedSession,
        test_mode: bool,
        conn: &mut AsyncPgConnection,
    ) -> Result<Layout, AppError> {
        let cart_count = match session.cart_id() {
            Some(cart_id) => cart::store::item_count(conn, cart_id).await?,
            None => 0,
        };
        session.set_cart_count(cart_count)?;
        Layout::new(session, test_mode)
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
