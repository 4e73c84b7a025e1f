//! Requests for a link to an address's orders, kept for the limits (per
//! client address and per email address, on every node) and forgotten
//! after a day.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::Statement;
use crate::db::schema::orders_link_requests;
use crate::mail::domain::RecentRequests;
use crate::mail::domain::link::LINK_REQUEST_WINDOW;

/// Takes, for the rest of the transaction, the locks of this client and
/// this address, so that requests racing on several nodes are counted one
/// after the other. Always the client's first: two requests never wait on
/// each other's.
pub async fn lock(conn: &mut AsyncPgConnection, client: &str, email: &str) -> QueryResult<()> {
    for key in [
        format!("orders-link client {client}"),
        format!("orders-link email {email}"),
    ] {
        Statement::new("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(key)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    by_client: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    client_since: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    by_email: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    email_since: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

/// The requests of the last window from `client` and for `email`.
pub async fn recent(
    conn: &mut AsyncPgConnection,
    client: &str,
    email: &str,
) -> QueryResult<RecentRequests> {
    let counts: Counts = Statement::new(
        "SELECT count(*) FILTER (WHERE client = $1) AS by_client, \
                min(created_at) FILTER (WHERE client = $1) AS client_since, \
                count(*) FILTER (WHERE email = $2) AS by_email, \
                min(created_at) FILTER (WHERE email = $2) AS email_since, \
                now() AS now \
         FROM orders_link_requests \
         WHERE (client = $1 OR email = $2) AND created_at > now() - $3 * interval '1 second'",
    )
    .bind::<Text, _>(client)
    .bind::<Text, _>(email)
    .bind::<BigInt, _>(LINK_REQUEST_WINDOW.num_seconds())
    .get_result(conn)
    .await?;
    Ok(RecentRequests {
        by_client: counts.by_client,
        client_since: counts.client_since,
        by_email: counts.by_email,
        email_since: counts.email_since,
        now: counts.now,
    })
}

pub async fn record(conn: &mut AsyncPgConnection, client: &str, email: &str) -> QueryResult<()> {
    diesel::insert_into(orders_link_requests::table)
        .values((
            orders_link_requests::client.eq(client),
            orders_link_requests::email.eq(email),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Forgets the requests made before `cutoff`; returns how many.
pub async fn purge(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(orders_link_requests::table.filter(orders_link_requests::created_at.lt(cutoff)))
        .execute(conn)
        .await
}
