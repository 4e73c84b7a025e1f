//! The product catalog: listing and product pages.

pub mod handlers;
pub mod models;
