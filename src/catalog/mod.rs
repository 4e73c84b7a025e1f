//! The product catalog: listing and product pages, served from an in-memory
//! copy of the active products.

pub mod cache;
pub mod domain;
pub mod http;
pub mod store;
