//! The merchant's back office at `/admin`: staff sign-in, products and
//! stock, orders with refunds and shipping, the orders that need a person,
//! the shop's emails, the checkout settings, the dashboard and the audit
//! log. Server-rendered like the shop, and working without JavaScript.

pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod emails;
pub mod http;
pub mod orders;
pub mod products;
pub mod settings;
