//! The API key check on every `/api` request: `Authorization: Bearer
//! sk_store_…`, 401 in the API's error shape otherwise.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use super::error::ApiError;
use crate::state::AppState;

/// The key a request authenticated with, for handlers (`web::ReqData`).
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyId(pub i64);

/// The bearer token of a request, if it has one of plausible shape.
fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with("sk_store_") && token.len() <= 128)
        .then_some(token)
}

async fn authenticate(state: &AppState, token: &str) -> Result<ApiKeyId, ApiError> {
    state
        .api_keys
        .authenticate(&state.db, token)
        .await?
        .map(ApiKeyId)
        .ok_or_else(|| ApiError::unauthorized("Invalid API key provided."))
}

/// Middleware on the /api scopes.
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
            if error.status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"storefront\""),
                );
            }
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}
