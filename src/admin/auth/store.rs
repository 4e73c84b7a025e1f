//! Staff accounts, their sessions and failed sign-ins, in PostgreSQL so that
//! every node sees the same (a sign-out, a disabled account, the limits).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::{StaffMember, StaffSession};
use crate::db::Statement;
use crate::db::schema::{staff, staff_login_attempts, staff_sessions};

/// The staff member with this email (any case).
pub async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<StaffMember>> {
    staff::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<Text, _>(email)
                .sql(")"),
        )
        .select(StaffMember::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<StaffMember>> {
    staff::table
        .order_by(staff::id)
        .select(StaffMember::as_select())
        .load(conn)
        .await
}

/// A new account; `None` if the email is taken.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    email: &str,
    password_hash: &str,
) -> QueryResult<Option<i64>> {
    diesel::insert_into(staff::table)
        .values((
            staff::email.eq(email),
            staff::password_hash.eq(password_hash),
        ))
        .on_conflict_do_nothing()
        .returning(staff::id)
        .get_result(conn)
        .await
        .optional()
}

/// Disables the account and ends its sessions; `false` if none is active.
pub async fn disable(conn: &mut AsyncPgConnection, staff_id: i64) -> QueryResult<bool> {
    let disabled = diesel::update(
        staff::table
            .find(staff_id)
            .filter(staff::disabled_at.is_null()),
    )
    .set(staff::disabled_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    end_all_sessions(conn, staff_id).await?;
    Ok(disabled > 0)
}

/// A new password (enabling the account again) ends every session.
pub async fn set_password(
    conn: &mut AsyncPgConnection,
    staff_id: i64,
    password_hash: &str,
) -> QueryResult<()> {
    diesel::update(staff::table.find(staff_id))
        .set((
            staff::password_hash.eq(password_hash),
            staff::password_changed_at.eq(diesel::dsl::now),
            staff::disabled_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
    end_all_sessions(conn, staff_id).await
}

async fn end_all_sessions(conn: &mut AsyncPgConnection, staff_id: i64) -> QueryResult<()> {
    diesel::delete(staff_sessions::table.filter(staff_sessions::staff_id.eq(staff_id)))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn record_sign_in(conn: &mut AsyncPgConnection, staff_id: i64) -> QueryResult<()> {
    diesel::update(staff::table.find(staff_id))
        .set(staff::last_sign_in_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}

/// Counts a sign-in attempt (kept if it fails); returns its id.
pub async fn record_attempt(
    conn: &mut AsyncPgConnection,
    client: &str,
    email: &str,
) -> QueryResult<i64> {
    diesel::insert_into(staff_login_attempts::table)
        .values((
            staff_login_attempts::client.eq(client),
            staff_login_attempts::email.eq(email),
        ))
        .returning(staff_login_attempts::id)
        .get_result(conn)
        .await
}

pub async fn forget_attempt(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(staff_login_attempts::table.find(id))
        .execute(conn)
        .await
        .map(drop)
}

/// After a successful sign-in, the account's failures no longer count.
pub async fn forget_attempts_for(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<()> {
    diesel::delete(staff_login_attempts::table.filter(staff_login_attempts::email.eq(email)))
        .execute(conn)
        .await
        .map(drop)
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = BigInt)]
    seconds: i64,
}

/// If `limit` or more attempts were made from the client (or at the email)
/// within the window, how many seconds until fewer are: when the
/// `limit`-th newest leaves it. `None` when fewer already are.
pub async fn wait_for(
    conn: &mut AsyncPgConnection,
    by_client: bool,
    value: &str,
    limit: i64,
    window_secs: i64,
) -> QueryResult<Option<u64>> {
    let sql = if by_client {
        include_str!("sql/wait_by_client.sql")
    } else {
        include_str!("sql/wait_by_email.sql")
    };
    let waiting: Option<Waiting> = Statement::new(sql)
        .bind::<Text, _>(value)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(window_secs)
        .get_result(conn)
        .await
        .optional()?;
    Ok(waiting.map(|w| u64::try_from(w.seconds.max(1)).unwrap_or(1)))
}

/// Opens a session for the staff member, replacing `previous` (the
/// browser's old session, if any): a new session id at every sign-in.
pub async fn open_session(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    staff_id: i64,
    csrf_token: &str,
    previous: Option<&[u8]>,
) -> QueryResult<()> {
    if let Some(previous) = previous {
        end_session(conn, previous).await?;
    }
    diesel::insert_into(staff_sessions::table)
        .values((
            staff_sessions::token_hash.eq(token_hash),
            staff_sessions::staff_id.eq(staff_id),
            staff_sessions::csrf_token.eq(csrf_token),
        ))
        .execute(conn)
        .await
        .map(drop)
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = BigInt)]
    staff_id: i64,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    csrf_token: String,
}

/// The live session with this token hash, its last use moved to now: the
/// staff member must be enabled, the session used within `idle_secs` and
/// opened within `max_age_secs`. A session that is not live is deleted.
pub async fn touch_session(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    idle_secs: i64,
    max_age_secs: i64,
) -> QueryResult<Option<StaffSession>> {
    let row: Option<SessionRow> = Statement::new(include_str!("sql/touch_session.sql"))
        .bind::<Bytea, _>(token_hash)
        .bind::<BigInt, _>(idle_secs)
        .bind::<BigInt, _>(max_age_secs)
        .get_result(conn)
        .await
        .optional()?;
    match row {
        Some(row) => Ok(Some(StaffSession {
            staff_id: row.staff_id,
            email: row.email,
            csrf_token: row.csrf_token,
            token_hash: token_hash.to_vec(),
        })),
        None => {
            end_session(conn, token_hash).await?;
            Ok(None)
        }
    }
}

pub async fn end_session(conn: &mut AsyncPgConnection, token_hash: &[u8]) -> QueryResult<()> {
    diesel::delete(staff_sessions::table.filter(staff_sessions::token_hash.eq(token_hash)))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes sessions past their idle or maximum age and sign-in attempts
/// older than a day. Returns how many rows went.
pub async fn purge(
    conn: &mut AsyncPgConnection,
    idle_cutoff: DateTime<Utc>,
    age_cutoff: DateTime<Utc>,
    attempts_cutoff: DateTime<Utc>,
) -> QueryResult<usize> {
    let sessions = diesel::delete(
        staff_sessions::table.filter(
            staff_sessions::last_seen_at
                .lt(idle_cutoff)
                .or(staff_sessions::created_at.lt(age_cutoff)),
        ),
    )
    .execute(conn)
    .await?;
    let attempts = Statement::new("DELETE FROM staff_login_attempts WHERE created_at < $1")
        .bind::<Timestamptz, _>(attempts_cutoff)
        .execute(conn)
        .await?;
    Ok(sessions + attempts)
}
