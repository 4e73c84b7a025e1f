//! The CSRF-checked url-encoded form extractor.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::{AppError, TypedSession};

/// An url-encoded form whose `csrf_token` field must match the session's token
/// (403 otherwise). `T` describes the other fields; unknown fields are ignored.
/// A body labelled anything but `application/x-www-form-urlencoded` is a 415:
/// what a browser's form sends is all a form route takes.
pub struct CsrfForm<T>(pub T);

/// Whether the request says its body is an url-encoded form (parameters
/// such as a charset allowed).
fn is_urlencoded(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !is_urlencoded(req) {
            return Box::pin(async { Err(AppError::UnsupportedMediaType) });
        }
        let req = req.clone();
        // Honours the app's `PayloadConfig` limit.
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|error| {
                if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest("We could not read that form. Please try again.".into())
                }
            })?;
            let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| AppError::BadRequest("That form was malformed.".into()))?;
            let token = fields
                .iter()
                .find(|(name, _)| name == "csrf_token")
                .map(|(_, value)| value.as_str())
                .unwrap_or_default();
            let session = TypedSession::extract(&req)
                .await
                .unwrap_or_else(|e| match e {});
            if !session.csrf_matches(token) {
                return Err(AppError::Forbidden(
                    "This form has expired or did not come from our site. \
                     Please go back, reload the page and try again."
                        .into(),
                ));
            }
            let form = serde_urlencoded::from_bytes(&body)
                .map_err(|_| AppError::BadRequest("That form was incomplete.".into()))?;
            Ok(CsrfForm(form))
        })
    }
}
