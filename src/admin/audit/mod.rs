//! The audit log of staff actions, and its page.

pub mod domain;
pub mod http;
pub mod store;
