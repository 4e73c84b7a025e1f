//! Order emails: confirmations, refund and shipment notices, and links to
//! the orders of an email address. A message is written to the outbox in
//! the same transaction as the transition that causes it (`store::enqueue`),
//! so one event makes exactly one message; the sender of every node sends
//! them over SMTP, or writes them to files in test mode.

pub mod domain;
pub mod http;
pub mod orders_link;
pub mod render;
pub mod sender;
pub mod settings;
pub mod store;
pub mod transport;
