//! API keys: `Authorization: Bearer sk_store_…` on every /api request. Only
//! a key's SHA-256 is stored, so a database leak does not leak keys.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::models::generate_api_key;
use crate::db::schema::api_keys;
use crate::startup::AppState;

/// `last_used_at` is refreshed at most this often, so that reads stay reads.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// The key a request authenticated with, for handlers (`web::ReqData`).
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyId(pub i64);

pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
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

/// The bearer token of a request, if it has one of plausible shape.
fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with("sk_store_") && token.len() <= 128)
        .then_some(token)
}

async fn authenticate(state: &AppState, token: &str) -> Result<ApiKeyId, ApiError> {
    let mut conn = state.db.get().await?;
    let found: Option<(i64, Option<DateTime<Utc>>)> = api_keys::table
        .filter(api_keys::key_hash.eq(hash_key(token)))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::id, api_keys::last_used_at))
        .first(&mut conn)
        .await
        .optional()?;
    let Some((id, last_used)) = found else {
        return Err(ApiError::unauthorized("Invalid API key provided."));
    };
    let stale =
        last_used.is_none_or(|at| (Utc::now() - at).num_seconds() >= LAST_USED_RESOLUTION_SECS);
    if stale {
        diesel::update(api_keys::table.find(id))
            .set(api_keys::last_used_at.eq(diesel::dsl::now))
            .execute(&mut conn)
            .await?;
    }
    Ok(ApiKeyId(id))
}

/// Middleware on the /api scope: 401 in the API's error shape without a
/// valid, unrevoked key.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let outcome = match (bearer(&req), req.app_data::<web::Data<AppState>>()) {
        (None, _) => Err(ApiError::unauthorized(
            "No valid API key provided. Send `Authorization: Bearer sk_store_...`.",
        )),
        (Some(token), Some(state)) => authenticate(state, token).await,
        (Some(_), None) => Err(ApiError::internal(anyhow::anyhow!("no app state"))),
    };
    match outcome {
        Ok(key) => {
            req.extensions_mut().insert(key);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(error) => {
            let mut response = error.error_response();
            if error.status == actix_web::http::StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    actix_web::http::header::HeaderValue::from_static(
                        "Bearer realm=\"storefront\"",
                    ),
                );
            }
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}
