//! Orders in the back office.

pub mod store;
