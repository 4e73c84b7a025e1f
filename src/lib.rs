//! Storefront: a server-rendered web checkout on PostgreSQL and Stripe Checkout.
//!
//! Each feature folder has the same layers: `domain` (types and rules),
//! `store` (queries), use cases, and `http` (handlers and pages).
//! Dependencies point one way: http → use case → store → domain. See
//! ARCHITECTURE.md.

pub mod admin;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod db;
pub mod events;
pub mod ids;
pub mod ledger;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod money;
pub mod ops;
pub mod orders;
pub mod payments_api;
pub mod purge;
pub mod routes;
pub mod seed;
pub mod server;
pub mod shop_settings;
pub mod state;
pub mod stripe;
pub mod telemetry;
pub mod web;
pub mod webhooks;

/// Selects ring as rustls' crypto provider for every outgoing HTTPS client
/// (reqwest is built without a default provider). Idempotent.
pub fn install_tls_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}
