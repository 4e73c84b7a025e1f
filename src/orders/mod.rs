//! Orders: created by checkout with a snapshot of our prices and their stock
//! reserved, then paid, closed or refunded exactly once per transition.

pub mod domain;
pub mod http;
pub mod store;
pub mod view;
