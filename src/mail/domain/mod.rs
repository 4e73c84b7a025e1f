//! Order emails as values: what a message says (its kind and the facts of
//! its event), where it stands in the outbox, and when a failed send is
//! tried again.

pub mod address;
pub mod link;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::mail_outbox;

pub use address::{AddressError, EmailAddress, MailFrom};
pub use link::{LINK_LIFETIME, LinkError, LinkKey, RecentRequests};

/// The longest wait between two tries of one message.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// What a message says, beyond the order it is about: the facts of the
/// event that caused it, kept as they were then (a later refund does not
/// change an earlier notice). Stored as JSON, tagged with its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// The order is paid.
    OrderConfirmation,
    /// Some or all of the order was refunded: this refund, and all refunded so far.
    RefundNotice {
        refunded_minor: i64,
        total_refunded_minor: i64,
    },
    /// The order is on its way.
    ShipmentNotice(Shipment),
    /// A link to the orders paid with the recipient's address.
    OrdersLink { token: String },
}

/// How an order was sent, as the back office records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: Option<String>,
    /// Only an `http(s)://` address is shown as a link.
    pub tracking_url: Option<String>,
}

impl Shipment {
    /// The tracking link, if it is one a mail reader may follow.
    pub fn tracking_link(&self) -> Option<&str> {
        self.tracking_url
            .as_deref()
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
    }
}

impl Message {
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::OrderConfirmation => MessageKind::OrderConfirmation,
            Message::RefundNotice { .. } => MessageKind::RefundNotice,
            Message::ShipmentNotice(_) => MessageKind::ShipmentNotice,
            Message::OrdersLink { .. } => MessageKind::OrdersLink,
        }
    }
}

/// The kinds of message (`mail_outbox.kind`), for metrics and lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    OrderConfirmation,
    RefundNotice,
    ShipmentNotice,
    OrdersLink,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::OrderConfirmation => "order_confirmation",
            MessageKind::RefundNotice => "refund_notice",
            MessageKind::ShipmentNotice => "shipment_notice",
            MessageKind::OrdersLink => "orders_link",
        }
    }

    /// A link to an address's orders is never sent again: it expires, and
    /// the shopper asks for a new one.
    pub fn resendable(self) -> bool {
        self != MessageKind::OrdersLink
    }

    pub fn parse(value: &str) -> Result<MessageKind, String> {
        Ok(match value {
            "order_confirmation" => MessageKind::OrderConfirmation,
            "refund_notice" => MessageKind::RefundNotice,
            "shipment_notice" => MessageKind::ShipmentNotice,
            "orders_link" => MessageKind::OrdersLink,
            _ => return Err(format!("unknown message kind {value:?}")),
        })
    }
}

/// A message in the outbox as the back office lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: MessageKind,
    pub order_id: Option<i64>,
    /// As given, which may not be an address we send to (then `Skipped`).
    pub recipient: Option<String>,
    pub status: MailStatus,
    pub attempts: i32,
    /// Why the last try failed, or why the message was not sent.
    pub last_error: Option<String>,
    /// When a pending message is next tried.
    pub next_attempt_at: DateTime<Utc>,
    /// The message this one sends again ("send again").
    pub resend_of: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl OutboxEntry {
    /// Whether staff may send it again: one that was sent or given up on
    /// (not one still being tried, nor one without an address to send to),
    /// and not a link to an address's orders (see `MessageKind::resendable`).
    pub fn can_send_again(&self) -> bool {
        matches!(self.status, MailStatus::Sent | MailStatus::Failed) && self.kind.resendable()
    }
}

/// Where a message stands (`mail_outbox.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    /// To send, being sent, or waiting to be tried again.
    Pending,
    Sent,
    /// Given up: refused for good, or too many tries. `last_error` says why.
    Failed,
    /// Nothing to send: no valid address, or no orders for a link.
    Skipped,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
            MailStatus::Skipped => "skipped",
        }
    }

    pub fn parse(value: &str) -> Result<MailStatus, String> {
        Ok(match value {
            "pending" => MailStatus::Pending,
            "sent" => MailStatus::Sent,
            "failed" => MailStatus::Failed,
            "skipped" => MailStatus::Skipped,
            _ => return Err(format!("unknown mail status {value:?}")),
        })
    }
}

/// When a message that could not be sent for now is tried again:
/// `first_retry`, doubling with each try up to an hour, each wait drawn
/// between half and all of it (jitter: messages that failed together, when
/// the mail server went away, do not all come back at once), and not after
/// `max_attempts` tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_retry: Duration,
}

impl RetryPolicy {
    /// The wait after try number `attempts` failed for now, given `jitter`
    /// in [0, 1); `None`: that was the last try.
    pub fn delay_after(&self, attempts: u32, jitter: f64) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(32);
        let full = self
            .first_retry
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_DELAY);
        Some(full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_stored_as_json_tagged_with_its_kind() {
        for message in [
            Message::OrderConfirmation,
            Message::RefundNotice {
                refunded_minor: 500,
                total_refunded_minor: 1500,
            },
            Message::ShipmentNotice(Shipment {
                carrier: Some("Parcelforce".into()),
                tracking_url: None,
            }),
            Message::OrdersLink { token: "t".into() },
        ] {
            let json = serde_json::to_value(&message).unwrap();
            assert_eq!(json["kind"], message.kind().as_str());
            assert_eq!(serde_json::from_value::<Message>(json).unwrap(), message);
        }
    }

    #[test]
    fn only_web_addresses_become_tracking_links() {
        let shipment = |url: &str| Shipment {
            carrier: None,
            tracking_url: Some(url.to_owned()),
        };
        assert!(
            shipment("https://track.example/1")
                .tracking_link()
                .is_some()
        );
        assert!(shipment("javascript:alert(1)").tracking_link().is_none());
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_stop() {
        let policy = RetryPolicy {
            max_attempts: 10,
            first_retry: Duration::from_secs(60),
        };
        assert_eq!(
            policy.delay_after(1, 0.999_999).map(|d| d.as_secs()),
            Some(59)
        );
        assert_eq!(policy.delay_after(1, 0.0), Some(Duration::from_secs(30)));
        assert_eq!(policy.delay_after(3, 0.0), Some(Duration::from_secs(120)));
        assert_eq!(policy.delay_after(9, 0.0), Some(Duration::from_secs(1800)));
        assert_eq!(policy.delay_after(9, 0.5), Some(Duration::from_secs(2700)));
        assert_eq!(policy.delay_after(10, 0.5), None, "ten tries at most");
        let tries_before_giving_up = (1..)
            .take_while(|attempt| policy.delay_after(*attempt, 0.0).is_some())
            .count();
        assert_eq!(tries_before_giving_up, 9);
    }
}
