//! The merchant's back office at `/admin`.

pub mod audit;
pub mod auth;
pub mod http;
pub mod orders;
