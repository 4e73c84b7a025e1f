//! Typed access to the cookie session. The cookie is private (encrypted and
//! authenticated) and holds only small values: the cart id, the number of
//! items in it (for the header, so pages need no query), the CSRF token and
//! pending flash messages. Everything else lives in PostgreSQL.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::AppError;

const CART_ID: &str = "cart_id";
const CART_COUNT: &str = "cart_count";
const CSRF_TOKEN: &str = "csrf_token";
const FLASHES: &str = "flashes";
const BROWSER_ID: &str = "browser_id";
const CUSTOMER: &str = "customer";
/// Pending flash messages kept in the cookie.
const MAX_FLASHES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashLevel {
    Success,
    Error,
}

/// A one-time message shown on the next page after a redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub level: FlashLevel,
    pub message: String,
}

impl Flash {
    pub fn is_error(&self) -> bool {
        self.level == FlashLevel::Error
    }

    pub fn css_class(&self) -> &'static str {
        match self.level {
            FlashLevel::Success => "success",
            FlashLevel::Error => "error",
        }
    }
}

pub struct TypedSession(Session);

impl TypedSession {
    pub fn cart_id(&self) -> Option<Uuid> {
        // A cookie we cannot read (older format) is treated as "no cart" rather than an error.
        self.0.get(CART_ID).ok().flatten()
    }

    pub fn set_cart_id(&self, cart_id: Uuid) -> Result<(), AppError> {
        if self.cart_id() == Some(cart_id) {
            return Ok(());
        }
        self.insert(CART_ID, cart_id)
    }

    /// Units in the cart as of this browser's last look at it, for the header:
    /// set by the cart page (where every cart change redirects) and the order
    /// pages (a paid order empties its lines).
    pub fn cart_count(&self) -> i64 {
        self.0.get(CART_COUNT).ok().flatten().unwrap_or_default()
    }

    pub fn set_cart_count(&self, count: i64) -> Result<(), AppError> {
        // Unchanged: no new cookie in the response.
        if self.cart_count() == count {
            return Ok(());
        }
        self.insert(CART_COUNT, count)
    }

    /// A random id for this browser, created on first checkout, under which
    /// its orders are listed.
    pub fn browser_id(&self) -> Option<Uuid> {
        self.0.get(BROWSER_ID).ok().flatten()
    }

    pub fn ensure_browser_id(&self) -> Result<Uuid, AppError> {
        if let Some(id) = self.browser_id() {
            return Ok(id);
        }
        let id = Uuid::new_v4();
        self.insert(BROWSER_ID, id)?;
        Ok(id)
    }

    /// The Stripe customer that paid this browser's last order: the next
    /// checkout pays as that customer (and account).
    pub fn customer(&self) -> Option<String> {
        self.0.get(CUSTOMER).ok().flatten()
    }

    pub fn set_customer(&self, customer: &str) -> Result<(), AppError> {
        if self.customer().as_deref() == Some(customer) {
            return Ok(());
        }
        self.insert(CUSTOMER, customer)
    }

    /// Stops paying as the remembered customer ("Forget my saved card").
    pub fn forget_customer(&self) {
        self.0.remove(CUSTOMER);
    }

    /// The session's CSRF token, created on first use. The session's cart
    /// and browser ids are chosen with it: every form the browser can post
    /// then names the same cart and browser, so two tabs adding at once
    /// before the cart has its first line fill one cart, not two (its row is
    /// made with its first line), and two checkouts at once are one
    /// browser's, of which it has one live.
    pub fn csrf_token(&self) -> Result<String, AppError> {
        if let Some(token) = self.0.get::<String>(CSRF_TOKEN).ok().flatten() {
            return Ok(token);
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        self.insert(CSRF_TOKEN, &token)?;
        if self.cart_id().is_none() {
            self.insert(CART_ID, Uuid::new_v4())?;
        }
        self.ensure_browser_id()?;
        Ok(token)
    }

    /// Constant-time comparison against the session's token; a session
    /// without a token accepts nothing.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        match self.0.get::<String>(CSRF_TOKEN).ok().flatten() {
            Some(token) => bool::from(token.as_bytes().ct_eq(submitted.as_bytes())),
            None => false,
        }
    }

    pub fn flash(&self, level: FlashLevel, message: impl Into<String>) -> Result<(), AppError> {
        let mut flashes = self.peek_flashes();
        // Only the latest few: a client that posts without ever reading a page
        // must not grow the cookie past the browser's 4 KB limit.
        if flashes.len() >= MAX_FLASHES {
            flashes.drain(..=flashes.len() - MAX_FLASHES);
        }
        flashes.push(Flash {
            level,
            message: message.into(),
        });
        self.insert(FLASHES, flashes)
    }

    /// Returns and clears the pending flash messages.
    pub fn take_flashes(&self) -> Vec<Flash> {
        let flashes = self.peek_flashes();
        if !flashes.is_empty() {
            self.0.remove(FLASHES);
        }
        flashes
    }

    fn peek_flashes(&self) -> Vec<Flash> {
        self.0.get(FLASHES).ok().flatten().unwrap_or_default()
    }

    fn insert(&self, key: &str, value: impl Serialize) -> Result<(), AppError> {
        self.0
            .insert(key, value)
            .context("writing the session")
            .map_err(AppError::from)
    }
}

impl FromRequest for TypedSession {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}
