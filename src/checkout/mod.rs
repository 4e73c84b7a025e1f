//! Checkout through Stripe Checkout: starting a session from the cart or a
//! single product, the return pages, webhooks and the reconciler. Every path
//! that learns a session's state goes through `apply_session`.

pub mod handlers;
pub mod payments;
pub mod reconciler;
pub mod webhook;
