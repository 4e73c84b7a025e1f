//! The payments ledger: accounts and their payments, written by checkout
//! (a paid order), the webhook (refunds, a debit's late outcome) and the
//! payments API (debits), read by the API's history.

pub mod domain;
pub mod held_refunds;
pub mod refunds;
pub mod store;
pub mod view;
