//! How fast we may call Stripe. Stripe limits each account to about 100
//! requests a second in live mode and 25 in test mode, reads and writes
//! counted apart, and answers 429 above that; we stay at 80 % of it, spaced
//! evenly, so that a burst queues instead of failing.

use std::time::Duration;

/// Requests a second we allow ourselves, per kind; 0 means no budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    pub reads_per_second: u32,
    pub writes_per_second: u32,
    /// How long a request may wait for its turn before it is refused.
    pub max_wait: Duration,
    /// Live and test mode are limited apart.
    pub live: bool,
}

/// A request to Stripe, as its limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Read,
    Write,
}

impl CallBudget {
    /// 80 % of Stripe's limits in that mode.
    pub fn default_per_second(live: bool) -> u32 {
        if live { 80 } else { 20 }
    }

    /// The budget's name, shared by every node: one per mode and kind.
    pub fn bucket(&self, call: Call) -> &'static str {
        match (self.live, call) {
            (true, Call::Read) => "live:read",
            (true, Call::Write) => "live:write",
            (false, Call::Read) => "test:read",
            (false, Call::Write) => "test:write",
        }
    }

    /// The time between two calls of this kind, if there is a budget.
    pub fn spacing(&self, call: Call) -> Option<Duration> {
        let per_second = match call {
            Call::Read => self.reads_per_second,
            Call::Write => self.writes_per_second,
        };
        (per_second > 0).then(|| Duration::from_secs(1) / per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_spaced_by_their_kind_s_rate_and_none_means_no_budget() {
        let budget = CallBudget {
            reads_per_second: 20,
            writes_per_second: 0,
            max_wait: Duration::from_secs(10),
            live: false,
        };
        assert_eq!(budget.spacing(Call::Read), Some(Duration::from_millis(50)));
        assert_eq!(budget.spacing(Call::Write), None);
        assert_eq!(budget.bucket(Call::Write), "test:write");
        assert_eq!(CallBudget::default_per_second(true), 80);
    }
}
