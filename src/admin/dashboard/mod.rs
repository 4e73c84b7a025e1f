//! The back office's front page: sales today and over 30 days, a chart of
//! daily revenue, low stock, orders to ship.

pub mod domain;
pub mod http;
pub mod store;
