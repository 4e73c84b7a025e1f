//! API keys (`sk_store_…`): created by the CLI and shown once, stored only
//! as their SHA-256 (a database leak does not leak keys), revoked by id or
//! display prefix.

use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::schema::api_keys;

/// `last_used_at` is refreshed at most this often, so that reads stay reads.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// `sk_store_` and 32 random bytes in base64url.
fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "sk_store_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Creates a key and returns it: the only time it is ever visible.
pub async fn create_key(conn: &mut AsyncPgConnection, name: &str) -> anyhow::Result<String> {
    let name = name.trim();
    anyhow::ensure!(
        (1..=100).contains(&name.chars().count()) && !name.contains('\0'),
        "the key name must be 1 to 100 characters"
    );
    let key = generate_api_key();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::name.eq(name),
            api_keys::prefix.eq(&key[..17]),
            api_keys::key_hash.eq(hash_key(&key)),
        ))
        .execute(conn)
        .await?;
    Ok(key)
}

/// Revokes the key with this id or display prefix; returns how many were revoked.
pub async fn revoke_key(conn: &mut AsyncPgConnection, id_or_prefix: &str) -> anyhow::Result<usize> {
    let target = api_keys::table.filter(api_keys::revoked_at.is_null());
    let revoked = match id_or_prefix.parse::<i64>() {
        Ok(id) => {
            diesel::update(target.filter(api_keys::id.eq(id)))
                .set(api_keys::revoked_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
        Err(_) => {
            diesel::update(target.filter(api_keys::prefix.eq(id_or_prefix)))
                .set(api_keys::revoked_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
    };
    Ok(revoked)
}

/// (id, name, prefix, created, last used, revoked) of every key.
pub type KeyListing = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

pub async fn list_keys(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<KeyListing>> {
    Ok(api_keys::table
        .select((
            api_keys::id,
            api_keys::name,
            api_keys::prefix,
            api_keys::created_at,
            api_keys::last_used_at,
            api_keys::revoked_at,
        ))
        .order_by(api_keys::id)
        .load(conn)
        .await?)
}

/// The unrevoked key whose hash is `key_hash`: its id and when its use was
/// last noted.
pub async fn find_unrevoked(
    conn: &mut AsyncPgConnection,
    key_hash: &[u8],
) -> QueryResult<Option<(i64, Option<DateTime<Utc>>)>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::id, api_keys::last_used_at))
        .first(conn)
        .await
        .optional()
}

/// Whether a key's use noted at `last_used` should be noted again now:
/// at most once a minute, so that reads stay reads.
pub fn use_to_note(last_used: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used.is_none_or(|at| (now - at).num_seconds() >= LAST_USED_RESOLUTION_SECS)
}

pub async fn note_use(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}
