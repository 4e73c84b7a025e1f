//! Our own Stripe client over reqwest: form-encoded requests, typed errors,
//! retries with the same Idempotency-Key, and webhook signature checks.

pub mod budget;
mod client;
mod error;
mod form;
pub mod gateway;
pub mod params;
pub mod types;
pub mod webhook;

pub use client::{StripeClient, StripeConfig};
pub use error::StripeError;
pub use form::Form;
pub use gateway::StripeGateway;
