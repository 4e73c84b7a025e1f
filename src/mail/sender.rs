//! The sender, a task on every node: claims due messages from the outbox
//! one at a time (never one another node holds), renders them from their
//! order as it is now, sends them, and records the outcome. Temporary
//! failures are tried again with backoff and jitter, up to the policy's
//! tries; a message refused for good fails at once, visibly.
//!
//! Exactly once, as far as we can: a message is sent by one node at a time
//! (the lease), and recorded sent as soon as the server takes it. A node
//! that dies between the server's answer and our record makes the message
//! go again after its lease, with the same Message-ID, which mail systems
//! use to drop the copy.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::domain::{EmailAddress, MailFrom, MailStatus, Message, MessageKind, RetryPolicy};
use super::render::{self, OrderFacts, Rendered};
use super::store::{self, Claimed};
use super::transport::{self, Identity, SendError, Transport};
use crate::db::DbPool;
use crate::metrics;
use crate::orders::store as orders;

/// How often an idle sender looks for due messages: an email a second
/// late is fine, and one indexed query a second per node is nothing.
const POLL: Duration = Duration::from_secs(1);
/// Longest one try may take (connecting, TLS, every command), after which
/// it counts as a temporary failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a claim keeps other senders off a message: longer than any try.
const LEASE: Duration = Duration::from_secs(300);

/// What the sender needs besides the database.
pub struct Mailer {
    pub transport: Transport,
    pub from: MailFrom,
    /// The shop's public origin, for the links in messages.
    pub shop_url: String,
    pub retry: RetryPolicy,
}

/// Sends due messages until the task is stopped.
pub async fn run(db: DbPool, mailer: Arc<Mailer>) {
    loop {
        match send_due(&db, &mailer).await {
            Ok(()) => {}
            Err(error) => tracing::warn!(error = ?error, "sending email failed; trying again"),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Sends every message due now, one at a time.
async fn send_due(db: &DbPool, mailer: &Mailer) -> anyhow::Result<()> {
    loop {
        let claimed = store::claim(&mut *db.get().await?, LEASE).await?;
        let Some(claimed) = claimed else {
            return Ok(());
        };
        deliver(db, mailer, &claimed).await?;
    }
}

/// How one try of a message ended.
enum Outcome {
    Sent,
    /// Not sent, for now: tried again later, or given up after the last try.
    Temporary(String),
    Closed(MailStatus, String),
}

/// Tries one claimed message and records how it went.
async fn deliver(db: &DbPool, mailer: &Mailer, claimed: &Claimed) -> anyhow::Result<()> {
    let message: Message = match serde_json::from_value(claimed.details.clone()) {
        Ok(message) => message,
        Err(error) => {
            let reason = format!("unreadable message: {error}");
            store::close(&mut *db.get().await?, claimed, MailStatus::Failed, &reason).await?;
            tracing::error!(outbox.id = claimed.id, %error, "unreadable message in the outbox");
            return Ok(());
        }
    };
    let kind = message.kind();
    let outcome = match try_once(db, mailer, claimed, &message).await? {
        Outcome::Temporary(error) => {
            let jitter = rand::rng().random::<f64>();
            let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
            match mailer.retry.delay_after(attempts, jitter) {
                Some(delay) => {
                    store::retry_later(&mut *db.get().await?, claimed, delay, &error).await?;
                    let error = without_addresses(&error);
                    tracing::warn!(outbox.id = claimed.id, kind = kind.as_str(), attempts, retry_in_ms = delay.as_millis() as u64, %error, "email not sent, will try again");
                    "retried"
                }
                None => {
                    let reason = format!("gave up after {attempts} tries: {error}");
                    store::close(&mut *db.get().await?, claimed, MailStatus::Failed, &reason)
                        .await?;
                    let error = without_addresses(&error);
                    tracing::error!(outbox.id = claimed.id, kind = kind.as_str(), attempts, %error, "email given up");
                    "failed"
                }
            }
        }
        Outcome::Sent => {
            if !store::mark_sent(&mut *db.get().await?, claimed).await? {
                tracing::warn!(outbox.id = claimed.id, "email sent after its claim ran out");
            }
            tracing::info!(
                outbox.id = claimed.id,
                kind = kind.as_str(),
                attempts = claimed.attempts,
                "email sent"
            );
            "sent"
        }
        Outcome::Closed(status, reason) => {
            store::close(&mut *db.get().await?, claimed, status, &reason).await?;
            if status == MailStatus::Failed {
                let error = without_addresses(&reason);
                tracing::error!(outbox.id = claimed.id, kind = kind.as_str(), %error, "email refused");
            } else {
                tracing::info!(outbox.id = claimed.id, kind = kind.as_str(), %reason, "email not needed");
            }
            status.as_str()
        }
    };
    metrics::get().mail(kind.as_str(), outcome);
    Ok(())
}

/// Renders and sends the message once.
async fn try_once(
    db: &DbPool,
    mailer: &Mailer,
    claimed: &Claimed,
    message: &Message,
) -> anyhow::Result<Outcome> {
    let Some(to) = claimed
        .recipient
        .as_deref()
        .and_then(|to| EmailAddress::parse(to).ok())
    else {
        return Ok(Outcome::Closed(
            MailStatus::Skipped,
            "no valid recipient".to_owned(),
        ));
    };
    let rendered = match compose(db, mailer, claimed, message, &to).await? {
        Ok(rendered) => rendered,
        Err(outcome) => return Ok(outcome),
    };
    let identity = Identity {
        message_id: claimed.message_id,
        queued_at: claimed.created_at,
    };
    let envelope = match transport::envelope(&mailer.from, &to, &rendered, &identity) {
        Ok(envelope) => envelope,
        Err(error) => return Ok(Outcome::Closed(MailStatus::Failed, format!("{error:#}"))),
    };
    Ok(
        match tokio::time::timeout(SEND_TIMEOUT, mailer.transport.send(&envelope)).await {
            Ok(Ok(())) => Outcome::Sent,
            Ok(Err(SendError::Temporary(error))) => Outcome::Temporary(error),
            Ok(Err(SendError::Permanent(error))) => Outcome::Closed(MailStatus::Failed, error),
            Err(_) => Outcome::Temporary("timed out".to_owned()),
        },
    )
}

/// The message's words, from its order as it is now; or why there is
/// nothing to send (an address without orders asked for a link).
async fn compose(
    db: &DbPool,
    mailer: &Mailer,
    claimed: &Claimed,
    message: &Message,
    to: &EmailAddress,
) -> anyhow::Result<Result<Rendered, Outcome>> {
    let mut conn = db.get().await?;
    let rendered = match claimed.order_id {
        Some(order_id) => {
            let Some(order) = orders::find_by_id(&mut conn, order_id).await? else {
                return Ok(Err(Outcome::Closed(
                    MailStatus::Failed,
                    "the order no longer exists".to_owned(),
                )));
            };
            let items = orders::items(&mut conn, &order).await?;
            let summary = orders::checkout_summary(&mut conn, &order).await?;
            let facts = OrderFacts {
                order: &order,
                items: &items,
                summary: &summary,
            };
            render::render(message, Some(facts), &mailer.shop_url)
        }
        None => {
            if message.kind() == MessageKind::OrdersLink
                && !orders::any_paid_for_email(&mut conn, &to.normalized()).await?
            {
                return Ok(Err(Outcome::Closed(
                    MailStatus::Skipped,
                    "no orders were paid with this address".to_owned(),
                )));
            }
            render::render(message, None, &mailer.shop_url)
        }
    };
    Ok(rendered.map_err(|error| Outcome::Closed(MailStatus::Failed, error.to_string())))
}

/// A mail server's answer as logged: servers often quote the recipient,
/// and addresses stay out of the logs (the outbox keeps the whole answer).
fn without_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "[address]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_answers_leave_addresses_out() {
        assert_eq!(
            without_addresses("permanent error (550): 5.1.1 <sam@example.com>: Recipient unknown"),
            "permanent error (550): 5.1.1 [address] Recipient unknown"
        );
    }
}
