//! The shopping cart: kept in PostgreSQL, referenced by the session cookie.

pub mod domain;
pub mod handlers;
pub mod models;
pub mod writes;
