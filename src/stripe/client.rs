//! Our Stripe client: typed calls, retries with the same Idempotency-Key,
//! Stripe's errors.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ErrorEnvelope;
use super::params::{NewCheckoutSession, NewRefund, OffSessionCharge};
use super::types::{
    CheckoutSession, List, PaymentIntent, PaymentMethod, PromotionCode, Refund, WebhookEndpoint,
};
use super::{Form, StripeError};
use crate::config::Secret;

/// The API version our wire types follow.
const API_VERSION: &str = "2023-08-16";

#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com`, or the simulator's address.
    pub api_base: String,
    pub secret_key: Secret,
    /// Per attempt. A timed-out request is not retried: the shopper is waiting.
    pub timeout: Duration,
    /// Extra attempts after network errors, 409, 429 and 5xx.
    pub max_retries: u32,
}

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    config: Arc<StripeConfig>,
}

/// One attempt's outcome, and whether Stripe says another attempt may succeed.
struct Attempt<T> {
    result: Result<T, StripeError>,
    retry: bool,
    retry_after: Option<Duration>,
}

impl StripeClient {
    pub fn new(config: StripeConfig) -> anyhow::Result<Self> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(3)))
            .user_agent(concat!("Storefront/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            config: Arc::new(config),
        })
    }

    /// The longest one call can take, retries and backoff included.
    pub fn worst_case_duration(&self) -> Duration {
        let attempts = self.config.max_retries + 1;
        self.config.timeout * attempts + MAX_BACKOFF * self.config.max_retries
    }

    pub fn is_test_mode(&self) -> bool {
        let key = self.config.secret_key.expose();
        key.starts_with("sk_test_") || key.starts_with("rk_test_")
    }

    pub async fn create_checkout_session(
        &self,
        session: &NewCheckoutSession<'_>,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError> {
        self.post("/v1/checkout/sessions", &session.form(), idempotency_key)
            .await
    }

    /// The session with its totals' breakdown (which names the promotion
    /// code of its discount).
    pub async fn retrieve_checkout_session(
        &self,
        id: &str,
    ) -> Result<CheckoutSession, StripeError> {
        self.get(&format!(
            "/v1/checkout/sessions/{}?expand%5B%5D=total_details.breakdown",
            path_segment(id)
        ))
        .await
    }

    pub async fn retrieve_promotion_code(&self, id: &str) -> Result<PromotionCode, StripeError> {
        self.get(&format!("/v1/promotion_codes/{}", path_segment(id)))
            .await
    }

    pub async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.get(&format!("/v1/payment_intents/{}", path_segment(id)))
            .await
    }

    pub async fn expire_checkout_session(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError> {
        let path = format!("/v1/checkout/sessions/{}/expire", path_segment(id));
        self.post(&path, &Form::new(), idempotency_key).await
    }

    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        events: &[&str],
        idempotency_key: &str,
    ) -> Result<WebhookEndpoint, StripeError> {
        let mut form = Form::new().field("url", url);
        for (i, event) in events.iter().enumerate() {
            form = form.field(format!("enabled_events[{i}]"), event);
        }
        self.post("/v1/webhook_endpoints", &form, idempotency_key)
            .await
    }

    /// Charges a saved card off-session: a confirmed PaymentIntent.
    pub async fn create_off_session_payment(
        &self,
        charge: &OffSessionCharge<'_>,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        self.post("/v1/payment_intents", &charge.form(), idempotency_key)
            .await
    }

    /// Refunds part or all of a payment (Stripe refuses more than is left).
    pub async fn create_refund(
        &self,
        refund: &NewRefund<'_>,
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        self.post("/v1/refunds", &refund.form(), idempotency_key)
            .await
    }

    /// The card the customer saved most recently, if any.
    pub async fn latest_saved_card(
        &self,
        customer_id: &str,
    ) -> Result<Option<PaymentMethod>, StripeError> {
        let path = format!(
            "/v1/customers/{}/payment_methods?type=card&limit=1",
            path_segment(customer_id)
        );
        let list: List<PaymentMethod> = self.get(&path).await?;
        Ok(list.data.into_iter().next())
    }

    /// A page of the customer's PaymentIntents, newest first, after the
    /// intent `starting_after`.
    pub async fn customer_payment_intents(
        &self,
        customer_id: &str,
        starting_after: Option<&str>,
    ) -> Result<List<PaymentIntent>, StripeError> {
        let mut path = format!(
            "/v1/payment_intents?customer={}&limit=100",
            path_segment(customer_id)
        );
        if let Some(after) = starting_after {
            path.push_str(&format!("&starting_after={}", path_segment(after)));
        }
        self.get(&path).await
    }

    /// POSTs with an Idempotency-Key, so retries (ours, and the caller's
    /// later ones with the same key) cannot apply twice.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        self.send(
            Method::POST,
            path,
            Some(form.encode()),
            Some(idempotency_key),
        )
        .await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, StripeError> {
        self.send(Method::GET, path, None, None).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let mut attempt = 0;
        loop {
            let outcome = self
                .attempt(method.clone(), path, body.clone(), idempotency_key)
                .await;
            match outcome.result {
                Err(error) if outcome.retry && attempt < self.config.max_retries => {
                    let delay = backoff(attempt, outcome.retry_after);
                    tracing::warn!(%error, path, attempt, delay_ms = delay.as_millis() as u64, "retrying Stripe request");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Attempt<T> {
        let url = format!("{}{}", self.config.api_base.trim_end_matches('/'), path);
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.config.secret_key.expose())
            .header("Stripe-Version", API_VERSION);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return network_failure(error, self.config.timeout),
        };
        let status = response.status();
        let should_retry = stripe_should_retry(response.headers(), status);
        let retry_after = retry_after(response.headers());
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return network_failure(error, self.config.timeout),
        };
        tracing::debug!(path, status = status.as_u16(), request_id = ?request_id, "Stripe response");
        let result = if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|source| StripeError::Decode {
                status: status.as_u16(),
                source,
            })
        } else {
            Err(match serde_json::from_slice::<ErrorEnvelope>(&bytes) {
                Ok(envelope) => StripeError::Api {
                    status: status.as_u16(),
                    body: envelope.error,
                    request_id,
                },
                Err(source) => StripeError::Decode {
                    status: status.as_u16(),
                    source,
                },
            })
        };
        Attempt {
            retry: result.is_err() && should_retry,
            result,
            retry_after,
        }
    }
}

fn network_failure<T>(error: reqwest::Error, timeout: Duration) -> Attempt<T> {
    if error.is_timeout() {
        Attempt {
            result: Err(StripeError::Timeout(timeout)),
            retry: false,
            retry_after: None,
        }
    } else {
        Attempt {
            result: Err(StripeError::Network(error)),
            retry: true,
            retry_after: None,
        }
    }
}

/// Stripe's own hint wins; without it, conflicts, rate limits and server
/// errors are worth another attempt.
fn stripe_should_retry(headers: &HeaderMap, status: StatusCode) -> bool {
    match headers
        .get("stripe-should-retry")
        .and_then(|v| v.to_str().ok())
    {
        Some("true") => true,
        Some("false") => false,
        _ => {
            status == StatusCode::CONFLICT
                || status == StatusCode::TOO_MANY_REQUESTS
                || status.is_server_error()
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// 0.5 s doubling per attempt, capped at 5 s, with 50-100% jitter; a
/// Retry-After of up to 5 s is honoured.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let cap = MAX_BACKOFF;
    let base = Duration::from_millis(500)
        .saturating_mul(2u32.saturating_pow(attempt))
        .min(cap);
    let millis = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let jittered = Duration::from_millis(rand::rng().random_range(millis / 2..=millis));
    match retry_after {
        Some(wait) => wait.min(cap).max(jittered),
        None => jittered,
    }
}

/// Ids go into paths; anything but Stripe's id alphabet is percent-encoded.
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
