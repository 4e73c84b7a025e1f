//! Orders: created pending at checkout with a price snapshot and reserved
//! stock, then paid, expired, cancelled, failed or refunded, each exactly once.

pub mod handlers;
pub mod models;
