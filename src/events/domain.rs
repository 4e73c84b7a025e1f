//! What events to merchants are: their types, which endpoints want them,
//! which URLs an endpoint may have (no requests to our own network from a
//! live shop), the signing secret, and when a failed delivery is tried
//! again.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;
use serde::Serialize;

use crate::db::schema::{
    api_delivery_attempts, api_event_deliveries, api_events, webhook_endpoints,
};
use crate::ledger::domain::PaymentStatus;

/// The events merchants can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    PaymentSucceeded,
    PaymentFailed,
    PaymentRefunded,
    OrderPaid,
    OrderRefunded,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::PaymentSucceeded,
        EventType::PaymentFailed,
        EventType::PaymentRefunded,
        EventType::OrderPaid,
        EventType::OrderRefunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PaymentSucceeded => "payment.succeeded",
            EventType::PaymentFailed => "payment.failed",
            EventType::PaymentRefunded => "payment.refunded",
            EventType::OrderPaid => "order.paid",
            EventType::OrderRefunded => "order.refunded",
        }
    }

    pub fn parse(kind: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == kind)
    }

    /// What a payment that has just reached `status` tells merchants: a
    /// failure or a card that needs its holder are both `payment.failed`.
    pub fn of_payment_status(status: PaymentStatus) -> Option<EventType> {
        match status {
            PaymentStatus::Succeeded => Some(EventType::PaymentSucceeded),
            PaymentStatus::Failed | PaymentStatus::RequiresAction => Some(EventType::PaymentFailed),
            PaymentStatus::Queued | PaymentStatus::Processing => None,
        }
    }
}

/// The events an endpoint wants: some types, or `*` for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnabledEvents(Vec<String>);

impl EnabledEvents {
    /// Event type names or `["*"]`; at least one, no unknown name.
    pub fn parse(names: &[String]) -> Result<EnabledEvents, String> {
        if names.is_empty() {
            return Err("enabled_events must name at least one event type, or \"*\".".into());
        }
        let mut kept: Vec<String> = Vec::new();
        for name in names {
            if name != "*" && EventType::parse(name).is_none() {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                let shown: String = name.chars().take(60).collect();
                return Err(format!(
                    "Unknown event type {shown:?}: use {} or \"*\".",
                    known.join(", ")
                ));
            }
            if !kept.contains(name) {
                kept.push(name.clone());
            }
        }
        Ok(EnabledEvents(kept))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// Where an endpoint may send: https anywhere public; in test mode also
/// http to this machine. A live shop never posts to loopback, private,
/// link-local or otherwise internal addresses (someone with an API key
/// must not reach the shop's own network through it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub fn parse(raw: &str, test_mode: bool) -> Result<EndpointUrl, String> {
        let url = reqwest::Url::parse(raw.trim())
            .map_err(|_| "url must be an absolute http:// or https:// URL.".to_owned())?;
        if raw.len() > 2048 {
            return Err("url must be at most 2048 characters.".into());
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err("url must not hold a user name, a password or a #fragment.".into());
        }
        let Some(host) = url.host_str().map(|h| h.trim_matches(['[', ']'])) else {
            return Err("url must name a host.".into());
        };
        let ip = host.parse::<IpAddr>().ok();
        let loopback = match ip {
            Some(ip) => ip.is_loopback(),
            None => {
                let name = host.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        match (url.scheme(), test_mode) {
            ("https", _) => {}
            ("http", true) if loopback => {}
            ("http", true) => {
                return Err("In test mode, url may use http:// only for this machine \
                            (localhost, 127.0.0.1, [::1]); use https:// elsewhere."
                    .into());
            }
            _ => return Err("url must use https://.".into()),
        }
        if !test_mode {
            let internal = match ip {
                Some(ip) => !is_public(ip),
                None => loopback,
            };
            if internal {
                return Err("url must not point at a loopback, private or link-local \
                            address."
                    .into());
            }
        }
        Ok(EndpointUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether an address is on the public internet: not loopback, private
/// (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
/// fe80::/10, where clouds serve instance metadata), shared (100.64/10),
/// unspecified, broadcast, multicast or reserved for documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || ip.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && ip.segments()[1] == 0x0db8)
        }
    }
}

/// A new endpoint's signing secret: `whsec_` and 32 random bytes.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// When a delivery that failed is tried again: after `first_retry`, then
/// twice as long each time (with jitter, so that endpoints coming back do
/// not get every node's retries at once), at most `MAX_DELAY` apart, until
/// `GIVE_UP_AFTER` has passed since the event: then it has failed.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first_retry: Duration,
}

impl RetryPolicy {
    /// Stripe's own window for webhook retries.
    pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
    const MAX_DELAY: Duration = Duration::from_secs(12 * 3600);

    /// The pause after the `attempt`-th try failed (1 for the first),
    /// `jitter` in [0, 1) taking up to half of it off; `None` once the next
    /// try would come later than `GIVE_UP_AFTER` after the event, `age` ago.
    pub fn delay_after(&self, attempt: u32, jitter: f64, age: Duration) -> Option<Duration> {
        let doubled = self
            .first_retry
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(Self::MAX_DELAY);
        let delay = doubled.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0);
        (age + delay <= Self::GIVE_UP_AFTER).then_some(delay)
    }
}

/// What a delivery posts: the event, as Stripe shapes its own.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    pub id: &'a str,
    pub object: &'static str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// Unix time the event was created.
    pub created: i64,
    pub livemode: bool,
    /// `{"object": ...}`: the payment or order as the change left it.
    pub data: &'a serde_json::Value,
}

/// A merchant's webhook endpoint.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub secret: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An event as recorded.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_events, check_for_backend(diesel::pg::Pg))]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub data: serde_json::Value,
    pub livemode: bool,
    pub created_at: DateTime<Utc>,
}

/// Where one event's delivery to one endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Given up after `RetryPolicy::GIVE_UP_AFTER`.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_event_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub endpoint_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One try of a delivery, as logged.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_delivery_attempts, check_for_backend(diesel::pg::Pg))]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: i64,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub response_status: Option<i16>,
    pub duration_ms: i32,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_mode() {
        for (url, test_mode) in [
            ("https://merchant.example.com/hooks", false),
            ("https://8.8.8.8/hooks", false),
            ("https://merchant.example.com/hooks", true),
            ("http://127.0.0.1:9000/hooks", true),
            ("http://localhost:9000/hooks", true),
            ("http://[::1]:9000/hooks", true),
        ] {
            assert!(EndpointUrl::parse(url, test_mode).is_ok(), "{url}");
        }
        for (url, test_mode) in [
            ("http://merchant.example.com/hooks", false),
            ("http://merchant.example.com/hooks", true),
            ("http://127.0.0.1:9000/hooks", false),
            ("https://127.0.0.1/hooks", false),
            ("https://localhost/hooks", false),
            ("https://10.1.2.3/hooks", false),
            ("https://192.168.0.10/hooks", false),
            ("https://169.254.169.254/latest/meta-data", false),
            ("https://[fe80::1]/hooks", false),
            ("https://[fd00::1]/hooks", false),
            ("https://[::ffff:10.0.0.1]/hooks", false),
            ("https://100.64.0.1/hooks", false),
            ("https://0.0.0.0/hooks", false),
            ("https://user:pass@merchant.example.com/hooks", false),
            ("ftp://merchant.example.com/hooks", true),
            ("/hooks", true),
            ("", true),
        ] {
            assert!(EndpointUrl::parse(url, test_mode).is_err(), "{url}");
        }
    }

    #[test]
    fn enabled_events_are_known_types_or_everything() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(EnabledEvents::parse(&names(&["payment.succeeded", "order.paid"])).is_ok());
        assert_eq!(
            EnabledEvents::parse(&names(&["*", "*"])).unwrap().names(),
            ["*"]
        );
        assert!(EnabledEvents::parse(&[]).is_err());
        assert!(EnabledEvents::parse(&names(&["payment.exploded"])).is_err());
    }

    #[test]
    fn retries_double_up_to_a_cap_and_stop_after_three_days() {
        let policy = RetryPolicy {
            first_retry: Duration::from_secs(60),
        };
        let young = Duration::ZERO;
        assert_eq!(
            policy.delay_after(1, 0.0, young),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            policy.delay_after(3, 0.0, young),
            Some(Duration::from_secs(240))
        );
        assert_eq!(
            policy.delay_after(3, 0.999_999, young).map(|d| d.as_secs()),
            Some(120)
        );
        assert_eq!(
            policy.delay_after(30, 0.0, young),
            Some(Duration::from_secs(12 * 3600))
        );
        let old = RetryPolicy::GIVE_UP_AFTER - Duration::from_secs(100);
        assert_eq!(
            policy.delay_after(1, 0.0, old),
            Some(Duration::from_secs(60))
        );
        assert_eq!(policy.delay_after(2, 0.0, old), None);
    }
}
