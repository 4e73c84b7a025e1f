//! The merchant's checkout settings, kept in the database: where goods
//! ship, the shipping rates, tax, and promotion codes. Every checkout and
//! the cart's wording read them; a back office edits them through `store`.

pub mod domain;
pub mod store;
