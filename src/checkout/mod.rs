//! Checkout through Stripe Checkout: starting a session from the cart or a
//! single product (`start`), settling sessions and refunds (`settle`), the
//! return pages (`http`) and the reconciler. Every path that learns a
//! session's state goes through `settle::apply_session`.

pub mod http;
pub mod reconciler;
pub mod settle;
pub mod start;
