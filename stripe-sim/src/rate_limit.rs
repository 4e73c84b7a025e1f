//! Stripe's rate limits: at most so many read (GET) and write (POST) requests
//! per API key in any one second (25 and 25 in test mode), refused with a 429
//! `rate_limit` error. Off unless set; the peak rates seen are counted either
//! way, so a test can check that a client stayed under Stripe's limits.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

const WINDOW: Duration = Duration::from_secs(1);

/// Requests allowed per API key in any one second; 0 means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub reads_per_second: u32,
    pub writes_per_second: u32,
}

impl RateLimit {
    /// Stripe's limits in test mode and sandboxes.
    pub const STRIPE_TEST_MODE: RateLimit = RateLimit {
        reads_per_second: 25,
        writes_per_second: 25,
    };
}

/// What `GET /_sim/rate_limit` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub limit: RateLimit,
    /// The most requests one API key made in any one second (refused ones not counted).
    pub max_reads_in_one_second: usize,
    pub max_writes_in_one_second: usize,
    /// Requests answered 429.
    pub refused: u64,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    limit: RateLimit,
    /// The times of each key's admitted requests in the last second, by (key, write).
    recent: HashMap<(String, bool), VecDeque<Instant>>,
    max_reads: usize,
    max_writes: usize,
    refused: u64,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Sets the limits and starts counting afresh.
    pub fn set(&mut self, limit: RateLimit) {
        *self = Self::new(limit);
    }

    /// Whether this request may run: a sliding one-second window per key.
    pub fn admit(&mut self, api_key: &str, write: bool, now: Instant) -> bool {
        let limit = if write {
            self.limit.writes_per_second
        } else {
            self.limit.reads_per_second
        };
        let recent = self.recent.entry((api_key.to_owned(), write)).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            recent.pop_front();
        }
        if limit > 0 && recent.len() >= limit as usize {
            self.refused += 1;
            return false;
        }
        recent.push_back(now);
        let max = if write {
            &mut self.max_writes
        } else {
            &mut self.max_reads
        };
        *max = (*max).max(recent.len());
        true
    }

    /// Forgets keys with no request in the last second.
    pub fn prune(&mut self, now: Instant) {
        self.recent.retain(|_, recent| {
            recent
                .back()
                .is_some_and(|t| now.duration_since(*t) < WINDOW)
        });
    }

    pub fn report(&self) -> Report {
        Report {
            limit: self.limit,
            max_reads_in_one_second: self.max_reads,
            max_writes_in_one_second: self.max_writes,
            refused: self.refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_second_per_key_and_kind() {
        let mut limiter = RateLimiter::new(RateLimit {
            reads_per_second: 0,
            writes_per_second: 2,
        });
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(limiter.admit("sk_test_a", true, at(0)));
        assert!(limiter.admit("sk_test_a", true, at(600)));
        assert!(
            !limiter.admit("sk_test_a", true, at(900)),
            "a third write within a second"
        );
        assert!(
            limiter.admit("sk_test_b", true, at(900)),
            "another key has its own window"
        );
        assert!(
            limiter.admit("sk_test_a", true, at(1000)),
            "the first write left the window"
        );
        for ms in 0..50 {
            assert!(
                limiter.admit("sk_test_a", false, at(ms)),
                "reads are not limited"
            );
        }
        let report = limiter.report();
        assert_eq!(
            (
                report.max_writes_in_one_second,
                report.max_reads_in_one_second
            ),
            (2, 50)
        );
        assert_eq!(report.refused, 1);
        limiter.prune(at(2500));
        assert!(limiter.recent.is_empty());
    }
}
