//! The product catalog: the front page, collections, product pages, search,
//! sitemaps; pages served from what each node keeps in memory (`cache`),
//! refreshed product by product by PostgreSQL's notifications.

pub mod cache;
pub mod domain;
pub mod generate;
pub mod http;
pub mod paging;
pub mod query;
pub mod search;
pub mod store;
