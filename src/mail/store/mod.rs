//! The outbox in PostgreSQL: messages enqueued inside the transaction of
//! the transition that causes them, claimed by the senders of every node
//! under a lease, and their outcome recorded by the claim that holds them.
//! The requests for links to an address's orders are in `link_requests`.

pub mod link_requests;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::domain::{EmailAddress, MailStatus, Message, MessageKind, OutboxEntry};
use crate::db::Statement;
use crate::db::schema::{mail_outbox, orders};

/// Adds a message to the outbox, in the caller's transaction: it exists if
/// and only if the caller's change commits. A message without a valid
/// recipient is recorded as skipped, with why (a paid order without an
/// email is not an error). Any transition that tells a shopper something
/// calls this inside its own transaction.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    order_id: Option<i64>,
    recipient: Option<&str>,
    message: &Message,
) -> QueryResult<i64> {
    insert(conn, order_id, recipient, message, None).await
}

async fn insert(
    conn: &mut AsyncPgConnection,
    order_id: Option<i64>,
    recipient: Option<&str>,
    message: &Message,
    resend_of: Option<i64>,
) -> QueryResult<i64> {
    let (status, reason) = match recipient.map(EmailAddress::parse) {
        Some(Ok(_)) => (MailStatus::Pending, None),
        Some(Err(error)) => (
            MailStatus::Skipped,
            Some(format!("not a valid recipient: {error}")),
        ),
        None => (MailStatus::Skipped, Some("no email address".to_owned())),
    };
    let details = serde_json::to_value(message)
        .map_err(|error| diesel::result::Error::SerializationError(error.into()))?;
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::kind.eq(message.kind().as_str()),
            mail_outbox::order_id.eq(order_id),
            // What was given, kept to show; cut short past the column's limit.
            mail_outbox::recipient.eq(recipient.map(|r| r.chars().take(1000).collect::<String>())),
            mail_outbox::details.eq(details),
            mail_outbox::status.eq(status.as_str()),
            mail_outbox::last_error.eq(reason),
            mail_outbox::resend_of.eq(resend_of),
        ))
        .returning(mail_outbox::id)
        .get_result(conn)
        .await
}

/// A message claimed for sending: until its lease runs out, no other
/// sender claims it, and only this claim (its `attempts`) may record how
/// the try went.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = SqlUuid)]
    pub message_id: Uuid,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub order_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub recipient: Option<String>,
    #[diesel(sql_type = Jsonb)]
    pub details: serde_json::Value,
    /// Tries so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// Claims the oldest due message for `lease`, if any. Rows another sender
/// is claiming are skipped (`SKIP LOCKED`), and a claimed row is not due
/// again until its lease runs out: two nodes never hold one message. A
/// sender that dies mid-send leaves it to be claimed after the lease.
pub async fn claim(conn: &mut AsyncPgConnection, lease: Duration) -> QueryResult<Option<Claimed>> {
    Statement::new(
        "UPDATE mail_outbox SET attempts = attempts + 1, \
             next_attempt_at = now() + $1 * interval '1 millisecond' \
         WHERE id = (SELECT id FROM mail_outbox WHERE status = $2 AND next_attempt_at <= now() \
                     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, message_id, order_id, recipient, details, attempts, created_at",
    )
    .bind::<BigInt, _>(millis(lease))
    .bind::<Text, _>(MailStatus::Pending.as_str())
    .get_result(conn)
    .await
    .optional()
}

/// Records that the claimed message was sent. False if the claim was lost
/// (its lease ran out and another sender took it).
pub async fn mark_sent(conn: &mut AsyncPgConnection, claimed: &Claimed) -> QueryResult<bool> {
    Statement::new(
        "UPDATE mail_outbox SET status = $3, sent_at = now(), last_error = NULL \
         WHERE id = $1 AND attempts = $2 AND status = $4",
    )
    .bind::<BigInt, _>(claimed.id)
    .bind::<Integer, _>(claimed.attempts)
    .bind::<Text, _>(MailStatus::Sent.as_str())
    .bind::<Text, _>(MailStatus::Pending.as_str())
    .execute(conn)
    .await
    .map(|updated| updated > 0)
}

/// Leaves the claimed message pending, to be tried again after `delay`.
pub async fn retry_later(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    delay: Duration,
    error: &str,
) -> QueryResult<bool> {
    Statement::new(
        "UPDATE mail_outbox SET next_attempt_at = now() + $3 * interval '1 millisecond', \
             last_error = $4 \
         WHERE id = $1 AND attempts = $2 AND status = $5",
    )
    .bind::<BigInt, _>(claimed.id)
    .bind::<Integer, _>(claimed.attempts)
    .bind::<BigInt, _>(millis(delay))
    .bind::<Text, _>(error)
    .bind::<Text, _>(MailStatus::Pending.as_str())
    .execute(conn)
    .await
    .map(|updated| updated > 0)
}

/// Ends the claimed message without sending it: `failed` (refused, or too
/// many tries) or `skipped` (nothing to send), with why.
pub async fn close(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    status: MailStatus,
    reason: &str,
) -> QueryResult<bool> {
    debug_assert!(matches!(status, MailStatus::Failed | MailStatus::Skipped));
    Statement::new(
        "UPDATE mail_outbox SET status = $3, last_error = $4 \
         WHERE id = $1 AND attempts = $2 AND status = $5",
    )
    .bind::<BigInt, _>(claimed.id)
    .bind::<Integer, _>(claimed.attempts)
    .bind::<Text, _>(status.as_str())
    .bind::<Text, _>(reason)
    .bind::<Text, _>(MailStatus::Pending.as_str())
    .execute(conn)
    .await
    .map(|updated| updated > 0)
}

/// The newest messages (those with `status`, if given), `limit` at a time,
/// before the message `before` (keyset pages for the back office), each
/// with its order's number.
pub async fn list(
    conn: &mut AsyncPgConnection,
    status: Option<MailStatus>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<(OutboxEntry, Option<String>)>> {
    let mut query = mail_outbox::table
        .left_join(orders::table)
        .order_by(mail_outbox::id.desc())
        .limit(limit)
        .select((OutboxEntry::as_select(), orders::number.nullable()))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(mail_outbox::status.eq(status.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(mail_outbox::id.lt(before));
    }
    query.load(conn).await
}

/// An order's messages, oldest first.
pub async fn for_order(
    conn: &mut AsyncPgConnection,
    order_id: i64,
) -> QueryResult<Vec<OutboxEntry>> {
    mail_outbox::table
        .filter(mail_outbox::order_id.eq(order_id))
        .order_by(mail_outbox::id)
        .select(OutboxEntry::as_select())
        .load(conn)
        .await
}

/// "Send again": a new message saying what message `id` said, to its
/// recipient, with a Message-ID of its own (mail systems may drop a second
/// copy of one they delivered) and naming the original. A link to an
/// address's orders is not sent again (the shopper asks for a new one).
/// Returns the new message's id, or `None` when there is nothing to resend.
pub async fn send_again(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<i64>> {
    let original: Option<(Option<i64>, Option<String>, serde_json::Value)> = mail_outbox::table
        .find(id)
        .select((
            mail_outbox::order_id,
            mail_outbox::recipient,
            mail_outbox::details,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((order_id, recipient, details)) = original else {
        return Ok(None);
    };
    match serde_json::from_value::<Message>(details) {
        Ok(message) if message.kind().resendable() => {
            insert(conn, order_id, recipient.as_deref(), &message, Some(id))
                .await
                .map(Some)
        }
        _ => Ok(None),
    }
}

/// Deletes the links to an address's orders queued before `cutoff` and no
/// longer pending (they expired long ago, and name addresses that may have
/// no orders); returns how many.
pub async fn purge_links(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        mail_outbox::table
            .filter(mail_outbox::kind.eq(MessageKind::OrdersLink.as_str()))
            .filter(mail_outbox::created_at.lt(cutoff))
            .filter(mail_outbox::status.ne(MailStatus::Pending.as_str())),
    )
    .execute(conn)
    .await
}

/// Whole milliseconds, as the statements take durations.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
