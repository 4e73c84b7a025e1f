//! Integration tests: a simulator on port 0, driven over real HTTP.

mod api;
mod bank_debits;
mod checkout;
mod discounts;
mod faults;
mod harness;
mod hosted;
mod idempotency;
mod memory;
mod rate_limits;
mod receiver;
mod refunds;
mod schema;
mod sessions;
mod webhooks;
