//! Migrations under a PostgreSQL advisory lock: nodes that start together on
//! a fresh database take turns, and those after the first find nothing to do.

use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

/// The advisory lock's key: any fixed number, the same on every node
/// ("sfmigr" in ASCII). Advisory locks are per database, so the databases
/// of one server do not wait for each other.
const LOCK_KEY: i64 = 0x7366_6d69_6772;

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Runs the pending migrations while holding the lock; returns how many ran.
pub(super) fn run_pending(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
    migrations: EmbeddedMigrations,
) -> anyhow::Result<usize> {
    // Session-level, so it holds across the harness's own transactions.
    let free: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<BigInt, _>(LOCK_KEY)
        .get_result(conn)
        .context("taking the migration lock")?;
    if !free.locked {
        tracing::info!("another node is running the migrations; waiting for it");
        diesel::sql_query("SELECT pg_advisory_lock($1)")
            .bind::<BigInt, _>(LOCK_KEY)
            .execute(conn)
            .context("waiting for the migration lock")?;
    }
    let applied = conn
        .run_pending_migrations(migrations)
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?
        .len();
    // After an error the caller drops the connection, which releases the
    // lock as well.
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(LOCK_KEY)
        .execute(conn)
        .context("releasing the migration lock")?;
    Ok(applied)
}
