//! Per-client rate limits on writes (form POSTs and the API), as token
//! buckets in memory: each node limits on its own, which bounds a client to
//! N times the rate across N nodes. Stripe's webhook deliveries are exempt.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::error::AppError;
use crate::payments_api::error::ApiError;
use crate::startup::AppState;

/// Buckets kept before idle (full) ones are dropped.
const MAX_CLIENTS: usize = 100_000;

pub struct RateLimiter {
    /// Tokens per minute; 0 turns limiting off.
    per_minute: u64,
    burst: u64,
    /// Whether the client address comes from X-Forwarded-For (behind our own proxy).
    trust_forwarded: bool,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    /// Thousandths of a token, so refills stay integer.
    milli_tokens: u64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32, trust_forwarded: bool) -> Self {
        Self {
            per_minute: u64::from(per_minute),
            burst: u64::from(burst.max(1)),
            trust_forwarded,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`, or says how long until one is available.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = self.burst * 1000;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_CLIENTS {
            let per_minute = self.per_minute;
            buckets.retain(|_, b| refilled(b, now, per_minute, capacity) < capacity);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            milli_tokens: capacity,
            updated: now,
        });
        bucket.milli_tokens = refilled(bucket, now, self.per_minute, capacity);
        bucket.updated = now;
        if bucket.milli_tokens >= 1000 {
            bucket.milli_tokens -= 1000;
            Ok(())
        } else {
            // Milli-tokens accrue at per_minute per 60 ms.
            let missing = 1000 - bucket.milli_tokens;
            Err(Duration::from_millis(
                (missing * 60).div_ceil(self.per_minute),
            ))
        }
    }

    fn client(&self, req: &ServiceRequest) -> Option<IpAddr> {
        if self.trust_forwarded {
            let info = req.connection_info();
            if let Some(ip) = info.realip_remote_addr().and_then(|a| a.parse().ok()) {
                return Some(ip);
            }
        }
        req.peer_addr().map(|addr| addr.ip())
    }
}

fn refilled(bucket: &Bucket, now: Instant, per_minute: u64, capacity: u64) -> u64 {
    let elapsed_ms =
        u64::try_from(now.duration_since(bucket.updated).as_millis()).unwrap_or(u64::MAX);
    let gained = elapsed_ms.saturating_mul(per_minute) / 60;
    bucket.milli_tokens.saturating_add(gained).min(capacity)
}

/// Middleware: 429 with Retry-After when a client writes too fast; an HTML
/// page for the shop, Stripe's JSON error shape under /api.
pub async fn limit_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let exempt = req.path() == "/webhooks/stripe";
    if is_write
        && !exempt
        && let Some(state) = req.app_data::<web::Data<AppState>>()
        && let Some(client) = state.rate_limiter.client(&req)
        && let Err(wait) = state.rate_limiter.take(client, Instant::now())
    {
        let seconds = wait.as_secs().max(1);
        let response = if req.path().starts_with("/api/") {
            ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limited",
                "Too many requests. Please retry after the time in the Retry-After header.",
            )
            .with_retry_after(seconds)
            .error_response()
        } else {
            AppError::TooManyRequests {
                retry_after_secs: seconds,
            }
            .error_response()
        };
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_tokens_refill_at_the_rate() {
        let limiter = RateLimiter::new(60, 3, false);
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(client, start).is_ok());
        }
        assert_eq!(limiter.take(client, start), Err(Duration::from_secs(1)));
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(
            limiter.take(other, start).is_ok(),
            "clients are limited separately"
        );
        assert!(
            limiter
                .take(client, start + Duration::from_millis(999))
                .is_err()
        );
        assert!(
            limiter
                .take(client, start + Duration::from_millis(2000))
                .is_ok()
        );
    }

    #[test]
    fn zero_turns_limiting_off() {
        let limiter = RateLimiter::new(0, 1, false);
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..1000 {
            assert!(limiter.take(client, Instant::now()).is_ok());
        }
    }
}
