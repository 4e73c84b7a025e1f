//! Runs stripe-sim standalone: `STRIPE_SIM_BIND` (default 127.0.0.1:12111),
//! `STRIPE_SIM_PUBLIC_URL` and `STRIPE_SIM_MAX_OBJECTS` configure it; Ctrl-C stops it.

use anyhow::Context;
use stripe_sim::{Config, Simulator};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let mut config = Config::default();
    if let Ok(bind) = std::env::var("STRIPE_SIM_BIND") {
        config.bind = bind
            .parse()
            .with_context(|| format!("STRIPE_SIM_BIND must be host:port, got {bind:?}"))?;
    }
    if let Ok(max) = std::env::var("STRIPE_SIM_MAX_OBJECTS") {
        config.max_objects = max
            .parse()
            .with_context(|| format!("STRIPE_SIM_MAX_OBJECTS must be a count, got {max:?}"))?;
    }
    config.public_url = std::env::var("STRIPE_SIM_PUBLIC_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let sim = Simulator::start(config).await?;
    tracing::info!(url = %sim.base_url(), "stripe-sim is listening");
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
