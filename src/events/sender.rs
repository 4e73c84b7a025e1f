//! The event sender, a task on every node: claims due deliveries from the
//! outbox (never one another node holds), posts each event to its endpoint
//! signed as Stripe signs (`Storefront-Signature: t=…,v1=HMAC-SHA256 of
//! "t.body"` keyed with the endpoint's secret), logs the try, and records
//! the outcome: delivered on a 2xx, otherwise tried again with exponential
//! backoff and jitter until three days after the event, then failed.
//!
//! At least once: a node that dies between the endpoint's answer and our
//! record makes the delivery go again after its lease. Receivers dedupe by
//! the event's id (README, "Receiving events").

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand::Rng;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::domain::{Envelope, RetryPolicy, is_public};
use super::store::{self, Claimed, Next, TryOutcome};
use crate::config::Secret;
use crate::db::DbPool;
use crate::metrics;
use crate::stripe::webhook::sign;

/// How often an idle sender looks for due deliveries.
const POLL: Duration = Duration::from_millis(250);
/// Deliveries claimed at once, and tried at the same time.
const BATCH: i64 = 32;
/// Longest one try may take; an endpoint slower than that has failed it.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim keeps other senders off a delivery: longer than a try.
const LEASE: Duration = Duration::from_secs(60);
/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Storefront-Signature";

/// What the sender needs besides the database.
pub struct Sender {
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl Sender {
    /// A live shop's sender connects only to public addresses, whatever a
    /// host name resolves to (a name that points at our own network, now or
    /// after the endpoint was registered, is refused).
    pub fn new(policy: RetryPolicy, test_mode: bool) -> anyhow::Result<Sender> {
        crate::install_tls_provider();
        let mut http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "Storefront/",
                env!("CARGO_PKG_VERSION"),
                " (events)"
            ));
        if !test_mode {
            http = http.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Sender {
            http: http.build()?,
            policy,
        })
    }
}

/// Sends due deliveries until the task is stopped.
pub async fn run(db: DbPool, sender: Arc<Sender>) {
    loop {
        if let Err(error) = send_due(&db, &sender).await {
            tracing::warn!(error = ?error, "sending events failed; trying again");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Sends every delivery due now, a batch at a time.
async fn send_due(db: &DbPool, sender: &Sender) -> anyhow::Result<()> {
    loop {
        let claimed = store::claim(&mut *db.get().await?, LEASE, BATCH).await?;
        let full = i64::try_from(claimed.len()).unwrap_or(i64::MAX) >= BATCH;
        for result in join_all(claimed.iter().map(|c| deliver(db, sender, c))).await {
            result?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// Tries one claimed delivery and records how it went.
async fn deliver(db: &DbPool, sender: &Sender, claimed: &Claimed) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&Envelope {
        id: &claimed.event_id,
        object: "event",
        kind: &claimed.kind,
        created: claimed.created_at.timestamp(),
        livemode: claimed.livemode,
        data: &claimed.data,
    })?;
    let signature = sign(
        &body,
        &Secret::new(claimed.secret.clone()),
        chrono::Utc::now().timestamp(),
    );
    let started = Instant::now();
    let sent = sender
        .http
        .post(&claimed.url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await;
    let duration = started.elapsed();
    let (response_status, error) = match &sent {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => (
            Some(response.status().as_u16()),
            Some(format!("the endpoint answered {}", response.status())),
        ),
        Err(error) => (None, Some(describe(error))),
    };
    let next = match &error {
        None => Next::Delivered,
        Some(_) => {
            let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
            let age = (chrono::Utc::now() - claimed.created_at)
                .to_std()
                .unwrap_or_default();
            let jitter = rand::rng().random::<f64>();
            match sender.policy.delay_after(attempts, jitter, age) {
                Some(delay) => Next::RetryAfter(delay),
                None => Next::GiveUp,
            }
        }
    };
    let outcome = TryOutcome {
        response_status,
        duration,
        error: error.as_deref(),
        next,
    };
    if !store::record_try(&mut *db.get().await?, claimed, &outcome).await? {
        tracing::warn!(
            delivery.id = claimed.id,
            "event delivery tried after its claim ran out"
        );
    }
    let label = match next {
        Next::Delivered => "delivered",
        Next::RetryAfter(_) => "retried",
        Next::GiveUp => {
            tracing::error!(delivery.id = claimed.id, event.id = %claimed.event_id, attempts = claimed.attempts, error = ?error, "event delivery given up");
            "failed"
        }
    };
    metrics::get().event_delivery(&claimed.kind, label);
    Ok(())
}

/// What went wrong, in a line for the delivery log.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let mut text = String::from(if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    });
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Resolves host names to their public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{} has no public address: a live shop does not send events to its own network",
                    name.as_str()
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}
