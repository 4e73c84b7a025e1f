//! Orders in the back office: the filtered list with its totals and CSV
//! export, the order page (items, payment, timeline), refunds through
//! Stripe, shipping, and the orders that need a person.

pub mod domain;
pub mod export;
pub mod fulfilment;
pub mod http;
pub mod refunding;
pub mod refunds;
pub mod store;
