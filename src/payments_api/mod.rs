//! The merchants' payments API (JSON, `Authorization: Bearer` API keys):
//! off-session debits of an account's saved card (`debit`; queued for a
//! worker on every node when asked to confirm asynchronously: `queue`),
//! refunds of payments (`refund`), payment history and updates from the
//! ledger. Accounts are ours (`acct_…`) and map to
//! Stripe customers (`cus_…`); browser checkouts appear in the history too.

pub mod debit;
pub mod domain;
pub mod http;
pub mod key_cache;
pub mod keys;
pub mod queue;
pub mod reconciler;
pub mod refund;
pub mod store;

pub use http::error::ApiError;
pub use http::openapi::document as openapi;
