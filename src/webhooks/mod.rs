//! Stripe's webhook: `POST /webhooks/stripe` verifies the signature on the
//! raw bytes (`http`), then records the event id and applies the event to
//! the feature it concerns in one transaction (`dispatch`).

mod dispatch;
pub mod http;
mod store;
