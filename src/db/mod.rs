//! Connection pools (the primary's, and reads that a standby may serve),
//! embedded migrations and the private development cluster.

pub mod batch;
pub mod cluster;
mod connect;
pub mod listen;
mod migrate;
mod reads;
pub mod schema;
mod statement;
mod tls;
mod values;

pub use connect::connect;
pub use reads::{ReadCounts, ReadStats, Reads};
pub use statement::Statement;

use std::time::Duration;

use anyhow::Context;
use diesel::ConnectionError;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use futures_util::FutureExt;

use crate::config::Secret;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;
/// No connection from the pool: the database is down or saturated.
pub type PoolError = deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>;

/// What reading through a pool can fail with: no connection in time (the
/// database is down or saturated), or the query.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection")]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Builds the pool. Connections are opened lazily; a request waits at most a
/// few seconds for one, then fails with 503 instead of hanging.
pub fn pool(url: &Secret, max_size: usize) -> anyhow::Result<DbPool> {
    // No test query on every checkout: a connection broken by a database
    // restart fails its first real query, which the error boundary answers
    // with 503 (see db::is_connection_loss), and the pool then drops it.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    // Connections open as db::connect opens them (TLS); the URL is parsed
    // and the CA certificates read once, here.
    let connector = connect::Connector::new(url)?;
    config.custom_setup = Box::new(move |_url| {
        let connector = connector.clone();
        async move {
            connector
                .connect()
                .await
                .map_err(|e| ConnectionError::BadConnection(format!("{e:#}")))
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url.expose(), config);
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .context("building the database pool")
}

/// Runs pending embedded migrations, one node at a time (see db::migrate).
/// The harness is synchronous, so it runs on a blocking thread over a
/// wrapped async connection.
pub async fn run_migrations(url: &Secret) -> anyhow::Result<()> {
    let conn = connect(url)
        .await
        .context("connecting to PostgreSQL to run migrations")?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        let applied = migrate::run_pending(&mut conn, MIGRATIONS)?;
        if applied > 0 {
            tracing::info!(count = applied, "applied database migrations");
        }
        Ok(())
    })
    .await?
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Creates `database` on the server behind `admin_url` unless it exists.
/// `template` clones an existing database (test databases copy a migrated template).
pub async fn create_database(
    admin_url: &Secret,
    database: &str,
    template: Option<&str>,
) -> anyhow::Result<()> {
    let mut conn = connect(admin_url)
        .await
        .context("connecting to PostgreSQL")?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(database)
            .get_result(&mut conn)
            .await?;
    if !found.exists {
        let mut sql = format!("CREATE DATABASE {}", quote_ident(database));
        if let Some(template) = template {
            sql.push_str(&format!(" TEMPLATE {}", quote_ident(template)));
        }
        conn.batch_execute(&sql)
            .await
            .with_context(|| format!("creating database {database}"))?;
    }
    Ok(())
}

/// True when a query failed because the connection to PostgreSQL was lost
/// (a restart or failover), rather than because of the query: the request
/// deserves a 503 and a retry, not a 500.
pub fn is_connection_loss(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        // 57P01-57P03: the server is shutting down or restarting.
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            info.message().starts_with("terminating connection")
                || info.message().starts_with("the database system is")
        }
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
