//! Forgets what is no longer needed, when a node starts and then every hour:
//! carts nobody has touched for `CART_RETENTION_DAYS` (with their lines),
//! refunds held for a payment that never came, ended staff sessions and old
//! sign-in attempts, and the requests for links to an address's orders and
//! those links' messages once they no longer count or work, and events to
//! merchants past Stripe's 30 days with nothing left to deliver. Safe on
//! several nodes at once: each takes only carts no other node has locked.

use std::time::Duration;

use crate::admin::auth::domain::SESSION_MAX_AGE;
use crate::admin::auth::store as staff;
use crate::cart::store as carts;
use crate::db::DbPool;
use crate::events::store as events;
use crate::ledger::held_refunds;
use crate::mail::store::{self as outbox, link_requests};

/// How often to look.
const INTERVAL: Duration = Duration::from_secs(3600);
/// Carts deleted per statement, so that no statement holds many locks for long.
const BATCH: i64 = 1000;
/// How long a refund waits for its payment (`held_refunds::hold`):
/// far past Stripe's three days of webhook retries and a day of sessions.
const HELD_REFUND_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);
/// How long events stay listed and replayable (as long as Stripe keeps its own).
const EVENT_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);
/// How long a request for a link to an address's orders is kept: far past
/// the hour its limits count.
const LINK_REQUEST_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// How long the message carrying such a link is kept: a week past its
/// day of use, to answer "I never got it".
const LINK_MESSAGE_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(8);

pub async fn run(db: DbPool, retention: Duration, staff_idle_timeout: Duration) {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match purge_abandoned_carts(&db, retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "deleted abandoned carts"),
            Err(error) => tracing::warn!(error = ?error, "deleting abandoned carts failed"),
        }
        match purge_expired_holds(&db).await {
            Ok(0) => {}
            Ok(purged) => {
                tracing::info!(purged, "deleted refunds held for payments that never came")
            }
            Err(error) => tracing::warn!(error = ?error, "deleting held refunds failed"),
        }
        if let Err(error) = purge_staff_sessions(&db, staff_idle_timeout).await {
            tracing::warn!(error = ?error, "deleting ended staff sessions failed");
        }
        match purge_order_links(&db).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot old order links and their requests"),
            Err(error) => tracing::warn!(error = ?error, "forgetting order links failed"),
        }
        let cutoff = chrono::Utc::now() - EVENT_RETENTION;
        match async { anyhow::Ok(events::purge(&mut *db.get().await?, cutoff).await?) }.await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "deleted events older than 30 days"),
            Err(error) => tracing::warn!(error = ?error, "deleting old events failed"),
        }
    }
}

/// Deletes staff sessions past their idle timeout or maximum age, and
/// sign-in attempts older than a day (far past the limits' window).
async fn purge_staff_sessions(db: &DbPool, idle_timeout: Duration) -> anyhow::Result<usize> {
    let now = chrono::Utc::now();
    let idle_cutoff = now - chrono::Duration::from_std(idle_timeout)?;
    let age_cutoff = now - chrono::Duration::from_std(SESSION_MAX_AGE)?;
    let attempts_cutoff = now - chrono::TimeDelta::days(1);
    Ok(staff::purge(
        &mut *db.get().await?,
        idle_cutoff,
        age_cutoff,
        attempts_cutoff,
    )
    .await?)
}

/// Deletes every cart untouched for `retention`; returns how many.
async fn purge_abandoned_carts(db: &DbPool, retention: Duration) -> anyhow::Result<usize> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(retention)?;
    let mut purged = 0;
    loop {
        let deleted = carts::purge_abandoned(&mut *db.get().await?, cutoff, BATCH).await?;
        purged += deleted;
        if i64::try_from(deleted).unwrap_or(i64::MAX) < BATCH {
            return Ok(purged);
        }
    }
}

/// Deletes the refunds held longer than `HELD_REFUND_RETENTION`; returns how many.
async fn purge_expired_holds(db: &DbPool) -> anyhow::Result<usize> {
    let cutoff = chrono::Utc::now() - HELD_REFUND_RETENTION;
    Ok(held_refunds::purge(&mut *db.get().await?, cutoff).await?)
}

/// Forgets the requests for order links older than `LINK_REQUEST_RETENTION`,
/// and their messages older than `LINK_MESSAGE_RETENTION`; returns how many.
async fn purge_order_links(db: &DbPool) -> anyhow::Result<usize> {
    let now = chrono::Utc::now();
    let mut conn = db.get().await?;
    let requests = link_requests::purge(&mut conn, now - LINK_REQUEST_RETENTION).await?;
    let messages = outbox::purge_links(&mut conn, now - LINK_MESSAGE_RETENTION).await?;
    Ok(requests + messages)
}
