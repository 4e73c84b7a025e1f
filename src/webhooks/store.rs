//! The Stripe events already processed, for deduplicating deliveries.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::stripe_events;

/// Records the event as processed; false if it was already (a redelivery).
pub async fn record_event(conn: &mut AsyncPgConnection, id: &str, kind: &str) -> QueryResult<bool> {
    diesel::insert_into(stripe_events::table)
        .values((stripe_events::id.eq(id), stripe_events::kind.eq(kind)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|inserted| inserted > 0)
}
