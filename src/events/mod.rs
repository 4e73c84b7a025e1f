//! Events to merchants: what happened to payments and orders
//! (`payment.succeeded`, `payment.failed`, `payment.refunded`, `order.paid`,
//! `order.refunded`), recorded in the transaction of the change and
//! delivered to the webhook endpoints merchants register through the
//! payments API, signed as Stripe signs its own, retried with backoff for
//! three days, every try logged.

pub mod domain;
pub mod sender;
pub mod store;
