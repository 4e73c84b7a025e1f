//! Stripe as the shop uses it: the client, the webhook signing secret, our
//! public origin for return URLs, and where shoppers pay. Without a Stripe
//! key it starts the bundled simulator in-process (test mode).

use std::time::Duration;

use anyhow::Context;

use super::budget::CallBudget;
use super::{StripeClient, StripeConfig};
use crate::config::{Secret, Settings};

/// The key the app uses with its in-process simulator.
#[cfg(feature = "simulator")]
const SIMULATOR_KEY: &str = "sk_test_storefront_simulator";

/// The simulator running in-process in test mode.
#[cfg(feature = "simulator")]
pub use stripe_sim::Simulator;

/// This build has no simulator (`--no-default-features`): never one running.
#[cfg(not(feature = "simulator"))]
pub enum Simulator {}

#[cfg(not(feature = "simulator"))]
impl Simulator {
    pub fn base_url(&self) -> String {
        match *self {}
    }

    pub async fn shutdown(self) {
        match self {}
    }
}

pub struct StripeGateway {
    pub client: StripeClient,
    pub webhook_secret: Secret,
    /// Our public origin, for Stripe's return URLs.
    pub base_url: String,
    pub session_ttl: Duration,
    /// The simulator's origin when it hosts the payment page.
    hosted_origin: Option<String>,
    /// How fast the payments API may call Stripe.
    pub budget: CallBudget,
}

impl StripeGateway {
    /// Talks to Stripe with STRIPE_SECRET_KEY; without it, starts the
    /// simulator in-process and registers our webhook endpoint with it.
    pub async fn connect(
        settings: &Settings,
        base_url: &str,
    ) -> anyhow::Result<(StripeGateway, Option<Simulator>)> {
        let config = |api_base: String, secret_key: Secret| StripeConfig {
            api_base,
            secret_key,
            timeout: settings.stripe_timeout,
            max_retries: 2,
        };
        let (client, webhook_secret, simulator, hosted_origin) = match &settings.stripe_secret_key {
            Some(key) => {
                let client =
                    StripeClient::new(config(settings.stripe_api_base.clone(), key.clone()))?;
                let secret = settings
                    .stripe_webhook_secret
                    .clone()
                    .context("STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set")?;
                // A non-Stripe API base is a simulator, which hosts its own payment page.
                let is_stripe = reqwest::Url::parse(&settings.stripe_api_base)
                    .ok()
                    .and_then(|url| url.host_str().map(|host| host.ends_with(".stripe.com")))
                    .unwrap_or(false);
                let hosted = (!is_stripe).then(|| settings.stripe_api_base.clone());
                (client, secret, None, hosted)
            }
            #[cfg(not(feature = "simulator"))]
            None => {
                anyhow::bail!("STRIPE_SECRET_KEY is required: this build has no Stripe simulator")
            }
            #[cfg(feature = "simulator")]
            None => {
                let sim_config = stripe_sim::Config {
                    bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    ..stripe_sim::Config::default()
                };
                let simulator = stripe_sim::Simulator::start(sim_config)
                    .await
                    .context("starting the Stripe simulator")?;
                let client =
                    StripeClient::new(config(simulator.base_url(), Secret::new(SIMULATOR_KEY)))?;
                let endpoint = client
                    .create_webhook_endpoint(
                        &format!("{base_url}/webhooks/stripe"),
                        &["*"],
                        &format!("storefront-webhook-{}", uuid::Uuid::new_v4()),
                    )
                    .await
                    .context("registering the webhook endpoint with the simulator")?;
                let secret = endpoint
                    .secret
                    .context("the simulator returned no webhook secret")?;
                tracing::info!(
                    simulator = %simulator.base_url(),
                    "TEST MODE: no STRIPE_SECRET_KEY, payments go to the built-in Stripe simulator"
                );
                let origin = simulator.base_url();
                (client, Secret::new(secret), Some(simulator), Some(origin))
            }
        };
        let live = !client.is_test_mode();
        let default = CallBudget::default_per_second(live);
        let budget = CallBudget {
            reads_per_second: settings.stripe_reads_per_second.unwrap_or(default),
            writes_per_second: settings.stripe_writes_per_second.unwrap_or(default),
            max_wait: settings.debit_queue_wait,
            live,
        };
        let gateway = StripeGateway {
            budget,
            client,
            webhook_secret,
            base_url: base_url.to_owned(),
            session_ttl: settings.checkout_session_ttl,
            hosted_origin,
        };
        Ok((gateway, simulator))
    }

    /// How long a Checkout Session stays payable: the configured time, kept
    /// within Stripe's 30 minutes to 24 hours with a minute to spare (Stripe
    /// measures from its own clock, after our request arrives).
    pub fn session_lifetime(&self) -> Duration {
        Duration::from_secs(self.session_ttl.as_secs().clamp(31 * 60, 24 * 3600 - 60))
    }

    pub fn is_test_mode(&self) -> bool {
        self.client.is_test_mode()
    }

    /// Where shoppers pay: Stripe's checkout site, or the simulator's own.
    pub fn checkout_origin(&self) -> String {
        match &self.hosted_origin {
            Some(origin) => origin.clone(),
            None => "https://checkout.stripe.com".to_owned(),
        }
    }
}
