//! The checkout settings in the back office: where goods ship, tax,
//! promotion codes and the shipping rates, kept by `shop_settings`.

pub mod domain;
pub mod edit;
pub mod http;
