//! Per-client rate limits on writes (form POSTs and the API), as token
//! buckets in memory: each node limits on its own, which bounds a client to
//! N times the rate across N nodes. Stripe's webhook deliveries are exempt.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError, web};

use super::AppError;
use crate::payments_api::ApiError;

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

    /// Whom a request counts against: the peer, or behind our proxy the
    /// last `X-Forwarded-For` entry (the one the proxy wrote; entries before
    /// it and the `Forwarded` header are the client's to invent). An IPv6
    /// client counts by its /64, which one host commonly has to itself.
    pub fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        let forwarded = if self.trust_forwarded {
            last_forwarded_for(req)
        } else {
            None
        };
        let ip = forwarded.or_else(|| req.peer_addr().map(|addr| addr.ip()))?;
        Some(match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
            },
            v4 => v4,
        })
    }
}

fn last_forwarded_for(req: &HttpRequest) -> Option<IpAddr> {
    let header = req.headers().get_all("x-forwarded-for").last()?;
    header
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
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
        && let Some(limiter) = req.app_data::<web::Data<RateLimiter>>()
        && let Some(client) = limiter.client(req.request())
        && let Err(wait) = limiter.take(client, Instant::now())
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

    fn client_of(limiter: &RateLimiter, peer: &str, forwarded: &[(&str, &str)]) -> IpAddr {
        let mut req = actix_web::test::TestRequest::default().peer_addr(peer.parse().unwrap());
        for header in forwarded {
            req = req.append_header(*header);
        }
        limiter.client(&req.to_http_request()).unwrap()
    }

    #[test]
    fn behind_the_proxy_only_the_address_it_wrote_counts() {
        let proxied = RateLimiter::new(60, 3, true);
        let peer = "127.0.0.1:4000";
        let client = |headers: &[(&str, &str)]| client_of(&proxied, peer, headers);
        let nginx: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.9")]), nginx);
        // What the client sent comes before the proxy's entry, or in headers
        // the proxy passes through.
        assert_eq!(
            client(&[("x-forwarded-for", "10.1.2.3, 203.0.113.9")]),
            nginx
        );
        assert_eq!(
            client(&[
                ("forwarded", "for=10.9.9.9"),
                ("x-forwarded-for", "203.0.113.9")
            ]),
            nginx
        );
        assert_eq!(
            client(&[("x-forwarded-for", "garbage")]),
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "an unreadable header counts as the proxy itself"
        );
        let direct = RateLimiter::new(60, 3, false);
        assert_eq!(
            client_of(&direct, peer, &[("x-forwarded-for", "203.0.113.9")]),
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "not behind a proxy: the header is ignored"
        );
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let limiter = RateLimiter::new(60, 3, false);
        let a = client_of(&limiter, "[2001:db8:1:2:aaaa::1]:4000", &[]);
        let b = client_of(&limiter, "[2001:db8:1:2:bbbb::7]:4000", &[]);
        let other = client_of(&limiter, "[2001:db8:1:3::1]:4000", &[]);
        assert_eq!(a, b);
        assert_ne!(a, other);
        let mapped = client_of(&limiter, "[::ffff:10.0.0.1]:4000", &[]);
        assert_eq!(mapped, "10.0.0.1".parse::<IpAddr>().unwrap());
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
