//! Events to merchants in PostgreSQL: webhook endpoints; events enqueued in
//! the caller's transaction with one delivery per endpoint that wants them
//! (the outbox); deliveries claimed by the senders of every node under a
//! lease (`FOR UPDATE SKIP LOCKED`), their outcome recorded by the claim
//! that holds them (fenced by the try count), each try logged.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::domain::{
    Attempt, Delivery, DeliveryStatus, EnabledEvents, Endpoint, EndpointUrl, Event, EventType,
    generate_secret,
};
use crate::db::Statement;
use crate::db::schema::{
    api_delivery_attempts, api_event_deliveries, api_events, webhook_endpoints,
};
use crate::ids::{EventId, WebhookEndpointId};

/// Records an event about `object` (a payment or an order as the change
/// left it) and its delivery to every enabled endpoint that wants its type,
/// in the caller's transaction: it exists if and only if the change commits.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    kind: EventType,
    object: &serde_json::Value,
    livemode: bool,
) -> QueryResult<EventId> {
    let id = EventId::generate();
    Statement::new(
        "WITH event AS (INSERT INTO api_events (id, type, data, livemode) \
                        VALUES ($1, $2, $3, $4) RETURNING id) \
         INSERT INTO api_event_deliveries (event_id, endpoint_id) \
         SELECT event.id, w.id FROM event, webhook_endpoints w \
         WHERE NOT w.disabled AND ($2 = ANY (w.enabled_events) OR '*' = ANY (w.enabled_events))",
    )
    .bind::<Text, _>(id.as_str().to_owned())
    .bind::<Text, _>(kind.as_str())
    .bind::<Jsonb, _>(serde_json::json!({ "object": object }))
    .bind::<Bool, _>(livemode)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Most endpoints a shop may have (Stripe's own limit).
pub const MAX_ENDPOINTS: i64 = 16;

/// Creates an endpoint with a new signing secret; `None` when the shop has
/// `MAX_ENDPOINTS` already.
pub async fn create_endpoint(
    conn: &mut AsyncPgConnection,
    url: &EndpointUrl,
    enabled: &EnabledEvents,
    description: Option<&str>,
) -> QueryResult<Option<Endpoint>> {
    conn.transaction(async |conn| {
        // Creations take turns, so that two cannot both take the last place.
        Statement::new("SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints', 0))")
            .execute(conn)
            .await?;
        let count: i64 = webhook_endpoints::table.count().get_result(conn).await?;
        if count >= MAX_ENDPOINTS {
            return Ok(None);
        }
        diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::id.eq(WebhookEndpointId::generate().as_str()),
                webhook_endpoints::url.eq(url.as_str()),
                webhook_endpoints::enabled_events.eq(enabled.names()),
                webhook_endpoints::secret.eq(generate_secret()),
                webhook_endpoints::description.eq(description),
            ))
            .returning(Endpoint::as_returning())
            .get_result(conn)
            .await
            .map(Some)
    })
    .await
}

/// Every endpoint, newest first.
pub async fn endpoints(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Endpoint>> {
    webhook_endpoints::table
        .order_by((
            webhook_endpoints::created_at.desc(),
            webhook_endpoints::id.desc(),
        ))
        .select(Endpoint::as_select())
        .load(conn)
        .await
}

pub async fn find_endpoint(
    conn: &mut AsyncPgConnection,
    id: &WebhookEndpointId,
) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table
        .find(id.as_str())
        .select(Endpoint::as_select())
        .first(conn)
        .await
        .optional()
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct EndpointChanges<'a> {
    pub url: Option<&'a EndpointUrl>,
    pub enabled_events: Option<&'a EnabledEvents>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<&'a str>>,
    pub disabled: Option<bool>,
}

pub async fn update_endpoint(
    conn: &mut AsyncPgConnection,
    id: &WebhookEndpointId,
    changes: &EndpointChanges<'_>,
) -> QueryResult<Option<Endpoint>> {
    diesel::update(webhook_endpoints::table.find(id.as_str()))
        .set(Changeset {
            url: changes.url.map(EndpointUrl::as_str),
            enabled_events: changes.enabled_events.map(EnabledEvents::names),
            description: changes.description,
            disabled: changes.disabled,
            updated_at: Utc::now(),
        })
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// The columns an update sets (`None`: left alone).
#[derive(AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
struct Changeset<'a> {
    url: Option<&'a str>,
    enabled_events: Option<&'a [String]>,
    description: Option<Option<&'a str>>,
    disabled: Option<bool>,
    updated_at: DateTime<Utc>,
}

/// Deletes the endpoint and its deliveries; whether there was one.
pub async fn delete_endpoint(
    conn: &mut AsyncPgConnection,
    id: &WebhookEndpointId,
) -> QueryResult<bool> {
    diesel::delete(webhook_endpoints::table.find(id.as_str()))
        .execute(conn)
        .await
        .map(|deleted| deleted > 0)
}

/// A delivery claimed for sending: until its lease runs out no other sender
/// claims it, and only this claim (its `attempts`) may record how it went.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Tries so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub event_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Jsonb)]
    pub data: serde_json::Value,
    #[diesel(sql_type = Bool)]
    pub livemode: bool,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub secret: String,
}

/// Claims up to `limit` due deliveries (to enabled endpoints) for `lease`.
/// Rows another sender is claiming are skipped, and a claimed row is not
/// due again until its lease runs out: two nodes never hold one delivery.
/// A sender that dies mid-try leaves it to be claimed after the lease.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    Statement::new(
        "UPDATE api_event_deliveries d SET attempts = d.attempts + 1, \
             next_attempt_at = now() + $1 * interval '1 millisecond' \
         FROM api_events e, webhook_endpoints w \
         WHERE d.id IN (SELECT d.id FROM api_event_deliveries d \
                        JOIN webhook_endpoints w ON w.id = d.endpoint_id AND NOT w.disabled \
                        WHERE d.status = $2 AND d.next_attempt_at <= now() \
                        ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED) \
           AND e.id = d.event_id AND w.id = d.endpoint_id \
         RETURNING d.id, d.attempts, e.id AS event_id, e.type AS kind, e.data, e.livemode, \
             e.created_at, w.url, w.secret",
    )
    .bind::<BigInt, _>(millis(lease))
    .bind::<Text, _>(DeliveryStatus::Pending.as_str())
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// How one try of a delivery went.
#[derive(Debug)]
pub struct TryOutcome<'a> {
    /// The endpoint's HTTP status, if it answered.
    pub response_status: Option<u16>,
    pub duration: Duration,
    pub error: Option<&'a str>,
    /// What becomes of the delivery: delivered, tried again after a
    /// pause, or failed for good.
    pub next: Next,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAfter(Duration),
    GiveUp,
}

/// Logs the try and records what becomes of the delivery. False if the
/// claim was lost (its lease ran out and another sender took it).
pub async fn record_try(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    outcome: &TryOutcome<'_>,
) -> QueryResult<bool> {
    let (status, delay) = match outcome.next {
        Next::Delivered => (DeliveryStatus::Delivered, Duration::ZERO),
        Next::RetryAfter(delay) => (DeliveryStatus::Pending, delay),
        Next::GiveUp => (DeliveryStatus::Failed, Duration::ZERO),
    };
    let error: Option<String> = outcome.error.map(|e| e.chars().take(1000).collect());
    Statement::new(
        "WITH logged AS (INSERT INTO api_delivery_attempts \
                 (delivery_id, attempt, response_status, duration_ms, error) \
             VALUES ($1, $2, $3, $4, $5)) \
         UPDATE api_event_deliveries SET status = $6, \
             next_attempt_at = now() + $7 * interval '1 millisecond', \
             delivered_at = CASE WHEN $6 = $8 THEN now() END \
         WHERE id = $1 AND attempts = $2 AND status = $9",
    )
    .bind::<BigInt, _>(claimed.id)
    .bind::<Integer, _>(claimed.attempts)
    .bind::<Nullable<SmallInt>, _>(outcome.response_status.and_then(|s| i16::try_from(s).ok()))
    .bind::<Integer, _>(i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX))
    .bind::<Nullable<Text>, _>(error)
    .bind::<Text, _>(status.as_str())
    .bind::<BigInt, _>(millis(delay))
    .bind::<Text, _>(DeliveryStatus::Delivered.as_str())
    .bind::<Text, _>(DeliveryStatus::Pending.as_str())
    .execute(conn)
    .await
    .map(|updated| updated > 0)
}

/// Sends the event again: a new delivery to `endpoint`, or to every endpoint
/// it was delivered to (or meant for) before. `None` if there is no such
/// event; the new deliveries otherwise.
pub async fn replay(
    conn: &mut AsyncPgConnection,
    event: &EventId,
    endpoint: Option<&WebhookEndpointId>,
) -> QueryResult<Option<Vec<Delivery>>> {
    if find_event(conn, event).await?.is_none() {
        return Ok(None);
    }
    let before: Vec<String> = match endpoint {
        Some(endpoint) => vec![endpoint.as_str().to_owned()],
        None => {
            api_event_deliveries::table
                .filter(api_event_deliveries::event_id.eq(event.as_str()))
                .select(api_event_deliveries::endpoint_id)
                .distinct()
                .load(conn)
                .await?
        }
    };
    let rows: Vec<_> = before
        .iter()
        .map(|endpoint_id| {
            (
                api_event_deliveries::event_id.eq(event.as_str()),
                api_event_deliveries::endpoint_id.eq(endpoint_id),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(Some(Vec::new()));
    }
    diesel::insert_into(api_event_deliveries::table)
        .values(rows)
        .returning(Delivery::as_returning())
        .get_results(conn)
        .await
        .map(Some)
}

pub async fn find_event(conn: &mut AsyncPgConnection, id: &EventId) -> QueryResult<Option<Event>> {
    api_events::table
        .find(id.as_str())
        .select(Event::as_select())
        .first(conn)
        .await
        .optional()
}

/// A page of events, newest first, after the cursor event, of one type if
/// asked. Loads one more than `limit` to tell `has_more`.
pub async fn events(
    conn: &mut AsyncPgConnection,
    kind: Option<EventType>,
    after: Option<&Event>,
    limit: i64,
) -> QueryResult<(Vec<Event>, bool)> {
    let mut query = api_events::table
        .select(Event::as_select())
        .order_by((api_events::created_at.desc(), api_events::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(api_events::kind.eq(kind.as_str()));
    }
    if let Some(cursor) = after {
        query = query.filter(
            api_events::created_at
                .lt(cursor.created_at)
                .or(api_events::created_at
                    .eq(cursor.created_at)
                    .and(api_events::id.lt(&cursor.id))),
        );
    }
    let mut rows = query.load(conn).await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, has_more))
}

/// Deliveries with their tries, oldest try first.
pub type DeliveryLog = Vec<(Delivery, Vec<Attempt>)>;

/// The event's deliveries, oldest first, with their tries.
pub async fn deliveries_of_event(
    conn: &mut AsyncPgConnection,
    event: &EventId,
) -> QueryResult<DeliveryLog> {
    let deliveries = api_event_deliveries::table
        .filter(api_event_deliveries::event_id.eq(event.as_str()))
        .order_by(api_event_deliveries::id)
        .select(Delivery::as_select())
        .load(conn)
        .await?;
    with_attempts(conn, deliveries).await
}

/// A page of the endpoint's deliveries, newest first, before the delivery
/// `before`, with their tries. Loads one more than `limit` to tell `has_more`.
pub async fn deliveries_of_endpoint(
    conn: &mut AsyncPgConnection,
    endpoint: &WebhookEndpointId,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<(DeliveryLog, bool)> {
    let mut query = api_event_deliveries::table
        .filter(api_event_deliveries::endpoint_id.eq(endpoint.as_str()))
        .order_by(api_event_deliveries::id.desc())
        .limit(limit + 1)
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(api_event_deliveries::id.lt(before));
    }
    let mut deliveries = query.load(conn).await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = deliveries.len() > limit;
    deliveries.truncate(limit);
    Ok((with_attempts(conn, deliveries).await?, has_more))
}

async fn with_attempts(
    conn: &mut AsyncPgConnection,
    deliveries: Vec<Delivery>,
) -> QueryResult<DeliveryLog> {
    let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
    let attempts: Vec<Attempt> = api_delivery_attempts::table
        .filter(api_delivery_attempts::delivery_id.eq_any(&ids))
        .order_by((
            api_delivery_attempts::delivery_id,
            api_delivery_attempts::attempt,
        ))
        .select(Attempt::as_select())
        .load(conn)
        .await?;
    let mut by_delivery: HashMap<i64, Vec<Attempt>> = HashMap::new();
    for attempt in attempts {
        by_delivery
            .entry(attempt.delivery_id)
            .or_default()
            .push(attempt);
    }
    Ok(deliveries
        .into_iter()
        .map(|delivery| {
            let attempts = by_delivery.remove(&delivery.id).unwrap_or_default();
            (delivery, attempts)
        })
        .collect())
}

/// Deletes events older than `cutoff` with nothing left to deliver (their
/// deliveries and tries go with them); returns how many.
pub async fn purge(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    Statement::new(
        "DELETE FROM api_events e WHERE e.created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM api_event_deliveries d WHERE d.event_id = e.id AND d.status = $2)",
    )
    .bind::<Timestamptz, _>(cutoff)
    .bind::<Text, _>(DeliveryStatus::Pending.as_str())
    .execute(conn)
    .await
}

/// Whole milliseconds, as the statements take durations.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
