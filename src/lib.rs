//! Storefront: a server-rendered web checkout on PostgreSQL and Stripe Checkout.

pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod held_refunds;
pub mod metrics;
pub mod money;
pub mod orders;
pub mod payments_api;
pub mod purge;
pub mod rate_limit;
pub mod seed;
pub mod session;
pub mod startup;
pub mod stripe;
pub mod telemetry;
pub mod web;

/// Selects ring as rustls' crypto provider for every outgoing HTTPS client
/// (reqwest is built without a default provider). Idempotent.
pub fn install_tls_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}
