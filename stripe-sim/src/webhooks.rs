//! Signed webhook delivery: one background task per event and endpoint, retried
//! with exponential backoff, re-signed on every attempt.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::state::{DeliveryRecord, Shared};

/// How long the out-of-order fault holds events before sending them newest first.
const HOLD: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint_id: String,
    pub url: String,
    pub secret: String,
}

#[derive(Debug)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub body: Arc<Vec<u8>>,
    pub targets: Vec<Target>,
    /// Send every copy twice (the `webhook_duplicate` fault at emission time).
    pub duplicate: bool,
}

/// Deliveries to start once the state lock is released.
#[derive(Debug, Default)]
pub struct Outgoing {
    pub deliveries: Vec<Delivery>,
    /// The first event was just held back: start the timer that releases the batch.
    pub start_hold: bool,
}

/// `hex(HMAC-SHA256(key = the whole "whsec_…" string, "{t}.{body}"))`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn dispatch(shared: &Arc<Shared>, outgoing: Outgoing) {
    for delivery in outgoing.deliveries {
        let delivery = Arc::new(delivery);
        for target in 0..delivery.targets.len() {
            shared.spawn(deliver(shared.clone(), delivery.clone(), target));
        }
    }
    if outgoing.start_hold {
        let task_shared = shared.clone();
        shared.spawn(async move {
            tokio::time::sleep(HOLD).await;
            let held = task_shared.lock().take_held();
            // One after another, so the receiver sees them in reverse order.
            for delivery in held {
                let delivery = Arc::new(delivery);
                for target in 0..delivery.targets.len() {
                    deliver(task_shared.clone(), delivery.clone(), target).await;
                }
            }
        });
    }
}

async fn deliver(shared: Arc<Shared>, delivery: Arc<Delivery>, target: usize) {
    let copies = if delivery.duplicate { 2 } else { 1 };
    for copy in 0..copies {
        for attempt in 1..=shared.webhook_max_attempts {
            if attempt_once(&shared, &delivery, target, attempt, copy > 0).await {
                break;
            }
            if attempt < shared.webhook_max_attempts {
                let factor = 1u32 << (attempt - 1).min(20);
                tokio::time::sleep(shared.webhook_retry_base.saturating_mul(factor)).await;
            }
        }
    }
}

/// Sends one signed POST and records it; true on a 2xx answer.
async fn attempt_once(
    shared: &Shared,
    delivery: &Delivery,
    target: usize,
    attempt: u32,
    duplicate: bool,
) -> bool {
    let target = &delivery.targets[target];
    let timestamp = shared.lock().signing_now();
    let signature = format!(
        "t={timestamp},v1={}",
        sign(&target.secret, timestamp, &delivery.body)
    );
    let result = shared
        .http
        .post(&target.url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header("Stripe-Signature", signature)
        .body(delivery.body.as_ref().clone())
        .send()
        .await;
    let (status, error) = match result {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(err) => (None, Some(err.to_string())),
    };
    let delivered = status.is_some_and(|s| (200..300).contains(&s));
    tracing::info!(
        event.id = %delivery.event_id,
        event.r#type = %delivery.event_type,
        url = %target.url,
        attempt,
        status,
        delivered,
        "webhook delivery"
    );
    let mut state = shared.lock();
    if delivered && let Some(event) = state.events.get_mut(&delivery.event_id) {
        event.pending_webhooks = (event.pending_webhooks - 1).max(0);
    }
    state.log_delivery(DeliveryRecord {
        event_id: delivery.event_id.clone(),
        event_type: delivery.event_type.clone(),
        endpoint_id: target.endpoint_id.clone(),
        url: target.url.clone(),
        attempt,
        outcome: if delivered { "delivered" } else { "failed" },
        status,
        error,
        duplicate,
        signature_timestamp: Some(timestamp),
    });
    delivered
}

#[cfg(test)]
mod tests {
    use super::sign;

    #[test]
    fn signs_timestamp_dot_body_with_the_whole_secret() {
        // Computed independently: printf '1700000000.{"id":"evt_1"}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"id":"evt_1"}"#),
            "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
        );
    }
}
