//! `stripe-sim`: an offline, stateful, test-mode Stripe that speaks Stripe's wire
//! protocol (form-encoded requests, JSON answers, signed webhooks) and serves a
//! hosted payment page. Start it in-process with [`Simulator::start`] or run the
//! `stripe-sim` binary.

// `json!` recurses once per field, and a Checkout Session has more than 50.
#![recursion_limit = "256"]

mod admin;
mod api;
mod banks;
mod cards;
mod countries;
mod error;
mod form;
mod hosted;
mod ids;
mod model;
mod money;
mod payments;
mod pricing;
mod promotions;
mod rate_limit;
mod server;
mod state;
mod store;
mod sweep;
mod webhooks;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio::sync::watch;

pub use crate::rate_limit::RateLimit;
use crate::state::{Limits, Shared, State};

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Base URL browsers use to reach the simulator, for the hosted pages'
    /// `url`s; defaults to the bound address.
    pub public_url: Option<String>,
    /// Delay before the first webhook retry; it doubles on each further retry.
    pub webhook_retry_base: Duration,
    /// Delivery attempts per event and endpoint, the first included.
    pub webhook_max_attempts: u32,
    /// The memory bound: most objects of each kind kept (Checkout Sessions,
    /// PaymentIntents, payment methods, customers, shipping rates, events,
    /// idempotency keys, and delivery log entries). Once a second the oldest
    /// final objects beyond it are dropped: expired or settled sessions,
    /// settled intents (with their charges and refunds), unsaved cards,
    /// customers (with their saved cards), shipping rates, events, finished
    /// idempotency keys. Open sessions and payments or refunds still settling
    /// are never dropped.
    pub max_objects: usize,
    /// Final objects and events older than this are dropped (Stripe keeps
    /// events 30 days), whatever their number.
    pub retention: Duration,
    /// How long (simulated time, whole seconds) a bank debit stays
    /// `processing` before it succeeds or fails, a bank refund `pending`, and
    /// a refund of the 4000 0000 0000 5126 card `succeeded` before it fails.
    /// `POST /_sim/settle` settles everything at once.
    pub settlement_delay: Duration,
    /// Stripe's rate limits, per API key and second (refused with a 429
    /// `rate_limit` error); off by default. [`RateLimit::STRIPE_TEST_MODE`]
    /// is Stripe's 25 reads and 25 writes. `/_sim/rate_limit` changes it and
    /// shows the peak rates seen.
    pub rate_limit: RateLimit,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 12111)),
            public_url: None,
            webhook_retry_base: Duration::from_secs(1),
            webhook_max_attempts: 8,
            max_objects: 10_000,
            retention: Duration::from_secs(30 * 24 * 60 * 60),
            settlement_delay: Duration::from_secs(3),
            rate_limit: RateLimit::default(),
        }
    }
}

/// A running simulator.
pub struct Simulator {
    base_url: String,
    server: ServerHandle,
    stop: watch::Sender<bool>,
}

impl Simulator {
    /// Binds at once and serves on the current tokio runtime until [`Simulator::shutdown`].
    pub async fn start(config: Config) -> anyhow::Result<Simulator> {
        // Several parts of a process may race to install it; any provider will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("cannot bind stripe-sim to {}", config.bind))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let public_url = config
            .public_url
            .as_deref()
            .unwrap_or(&base_url)
            .trim_end_matches('/')
            .to_owned();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the webhook HTTP client")?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            State::new(
                public_url,
                Limits {
                    max_objects: config.max_objects,
                    retention_secs: i64::try_from(config.retention.as_secs()).unwrap_or(i64::MAX),
                },
                i64::try_from(config.settlement_delay.as_secs()).unwrap_or(i64::MAX),
                config.rate_limit,
            ),
            http,
            stopped,
            config.webhook_retry_base,
            config.webhook_max_attempts.max(1),
        ));

        let data = web::Data::from(shared.clone());
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).configure(server::routes))
                .workers(2)
                .disable_signals()
                .listen(listener)?
                .run();
        let handle = server.handle();
        tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::error!(error = %err, "stripe-sim server stopped");
            }
        });

        let ticker = shared.clone();
        shared.spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            loop {
                interval.tick().await;
                ticker.with_state(State::tick);
            }
        });

        Ok(Simulator {
            base_url,
            server: handle,
            stop,
        })
    }

    /// Where the API and pages are served, e.g. `http://127.0.0.1:43121`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Stops the server, the expiry clock and pending webhook deliveries.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.server.stop(true).await;
    }
}

/// A simulator dropped without [`Simulator::shutdown`] (say, by a failing test)
/// still stops; `stop` sends its command at once, so the future need not be awaited.
impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        drop(self.server.stop(false));
    }
}
