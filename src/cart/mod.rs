//! The shopping cart: kept in PostgreSQL, referenced by the session cookie.

pub mod domain;
pub mod http;
pub mod store;
pub mod writes;
