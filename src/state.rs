//! What request handlers and background jobs work with. Only the HTTP
//! layer (handlers, the route table, the server) names `AppState`; jobs get
//! the smaller `Jobs`.

use std::path::Path;
use std::sync::Arc;

use crate::admin::auth::domain::SessionRules;
use crate::cart::writes::CartWrites;
use crate::catalog::cache::Catalog;
use crate::db::{DbPool, Reads};
use crate::mail::domain::LinkKey;
use crate::mail::http::SentMailPage;
use crate::payments_api::key_cache::ApiKeyCache;
use crate::stripe::StripeGateway;

/// One copy per HTTP worker thread.
pub struct AppState {
    /// This worker's PostgreSQL pool. Each worker thread has its own, so a
    /// connection's I/O runs on the thread whose requests use it: with one
    /// shared pool every query woke another thread and back, which cost the
    /// write paths about a quarter of their throughput (BENCHMARKS.md).
    pub db: DbPool,
    /// History reads and catalog loads: on the standby (DATABASE_READ_URL)
    /// once it shows what the primary had when the read began, else here.
    pub reads: Reads,
    /// This worker's cart changes, batched on its pool.
    pub cart: CartWrites,
    /// The active products, in memory.
    pub catalog: Arc<Catalog>,
    /// The API keys this node has verified.
    pub api_keys: Arc<ApiKeyCache>,
    /// Stripe (or the simulator).
    pub stripe: Arc<StripeGateway>,
    /// How long back-office sessions last, and their cookie.
    pub staff_sessions: SessionRules,
    /// Where uploaded product images are kept (UPLOAD_DIR).
    pub upload_dir: Arc<Path>,
    /// Most checkouts waiting for payment one client address may hold.
    pub pending_checkouts_per_client: u32,
    /// Signs the links to an address's orders ("Email me my orders").
    pub orders_link_key: LinkKey,
    /// What the test-mode page of sent emails shows.
    pub sent_mail: Arc<SentMailPage>,
}

impl AppState {
    /// Payments go to Stripe's test mode or the simulator: pages say so.
    pub fn test_mode(&self) -> bool {
        self.stripe.is_test_mode()
    }
}

/// What the background jobs (reconciler, purge) work with.
#[derive(Clone)]
pub struct Jobs {
    /// The node's background pool, apart from the request pools.
    pub db: DbPool,
    pub stripe: Arc<StripeGateway>,
}
