//! Signing in: the limits on failed attempts (per client address and per
//! account, on every node), the password check (the same answer, and the
//! same time, for an unknown email and a wrong password), and a new session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel_async::AsyncConnection;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::domain::{ATTEMPT_WINDOW, ATTEMPTS_PER_ACCOUNT, ATTEMPTS_PER_CLIENT, StaffSession};
use super::{passwords, store};
use crate::admin::audit::domain::Actor;
use crate::admin::audit::store as audit;
use crate::db::{DbError, DbPool};

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Too many failures from this client or at this account lately.
    #[error("too many failed sign-ins; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// Unknown email, wrong password or disabled account: told apart to nobody.
    #[error("the email and password do not match an account")]
    Refused,
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for SignInError {
    fn from(error: diesel::result::Error) -> Self {
        SignInError::Database(error.into())
    }
}

impl From<crate::db::PoolError> for SignInError {
    fn from(error: crate::db::PoolError) -> Self {
        SignInError::Database(error.into())
    }
}

/// A new session: the token for the browser's cookie, and the session.
pub struct SignedIn {
    pub token: String,
    pub session: StaffSession,
}

/// Checks `password` for the account at `email`, from `client`; on success
/// opens a session (ending the browser's `previous` one).
pub async fn sign_in(
    db: &DbPool,
    client: &str,
    email: &str,
    password: String,
    previous: Option<&str>,
) -> Result<SignedIn, SignInError> {
    // Counted under the address as typed, so that unknown ones count too.
    let key: String = email.trim().to_lowercase().chars().take(254).collect();
    let window = i64::try_from(ATTEMPT_WINDOW.as_secs()).unwrap_or(i64::MAX);
    let mut conn = db.get().await?;
    // The attempt is recorded before it is checked: concurrent attempts
    // count each other, so a burst cannot slip past the limits together.
    let attempt = store::record_attempt(&mut conn, client, &key).await?;
    let by_client =
        store::wait_for(&mut conn, true, client, ATTEMPTS_PER_CLIENT + 1, window).await?;
    let by_email =
        store::wait_for(&mut conn, false, &key, ATTEMPTS_PER_ACCOUNT + 1, window).await?;
    if let Some(wait) = by_client.max(by_email) {
        // A refused attempt is not a failure: it does not prolong the wait.
        store::forget_attempt(&mut conn, attempt).await?;
        return Err(SignInError::Throttled {
            retry_after_secs: wait,
        });
    }
    let member = store::find_by_email(&mut conn, &key).await?;
    // No connection is held while the hash is computed.
    drop(conn);
    let hash = member.as_ref().map(|m| m.password_hash.clone());
    let matches = passwords::verify(password, hash).await?;
    let Some(member) = member.filter(|m| matches && m.disabled_at.is_none()) else {
        return Err(SignInError::Refused);
    };
    let token = random_token();
    let session = StaffSession {
        staff_id: member.id,
        email: member.email.clone(),
        csrf_token: random_token(),
        token_hash: token_hash(&token),
    };
    let previous = previous.map(token_hash);
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        store::forget_attempts_for(conn, &key).await?;
        store::open_session(
            conn,
            &session.token_hash,
            member.id,
            &session.csrf_token,
            previous.as_deref(),
        )
        .await?;
        store::record_sign_in(conn, member.id).await?;
        audit::record(
            conn,
            Actor::Staff {
                id: member.id,
                email: &member.email,
            },
            "staff.signed_in",
            &format!("staff:{}", member.id),
            None,
            Some(json!({"client": client})),
        )
        .await
    })
    .await?;
    Ok(SignedIn { token, session })
}

/// The live session behind a cookie's token, if any (see `store::touch_session`).
pub async fn session(
    db: &DbPool,
    token: &str,
    idle_timeout: std::time::Duration,
) -> Result<Option<StaffSession>, DbError> {
    let idle = i64::try_from(idle_timeout.as_secs()).unwrap_or(i64::MAX);
    let max_age = i64::try_from(super::domain::SESSION_MAX_AGE.as_secs()).unwrap_or(i64::MAX);
    let mut conn = db.get().await?;
    Ok(store::touch_session(&mut conn, &token_hash(token), idle, max_age).await?)
}

/// Ends the session and records the sign-out.
pub async fn sign_out(db: &DbPool, session: &StaffSession) -> Result<(), DbError> {
    let mut conn = db.get().await?;
    conn.transaction(async |conn| {
        store::end_session(conn, &session.token_hash).await?;
        audit::record(
            conn,
            Actor::Staff {
                id: session.staff_id,
                email: &session.email,
            },
            "staff.signed_out",
            &format!("staff:{}", session.staff_id),
            None,
            None,
        )
        .await
    })
    .await?;
    Ok(())
}

/// 32 random bytes, base64url: a session token or a CSRF token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a session token.
fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
