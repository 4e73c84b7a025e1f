//! The API's error boundary: every failure under /api, extractor failures
//! included, answers `{"error": {"type", "code", "message", "param"}}` as
//! JSON. A 5xx never shows internals: it is logged here with its cause chain.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::telemetry;

/// Largest JSON body the API accepts; its requests are a few hundred bytes.
pub const JSON_LIMIT_BYTES: usize = 16 * 1024;

/// The error body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `card_error`,
    /// `idempotency_error`, `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short machine-readable code, e.g. `card_declined`, `resource_missing`.
    pub code: String,
    /// A message for the developer reading it.
    pub message: String,
    /// The request field the error is about, if any.
    pub param: Option<String>,
    /// For card errors: the card issuer's reason, as Stripe reports it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub decline_code: Option<String>,
    /// For a debit that was attempted and failed: the recorded payment.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub payment_id: Option<String>,
}

/// An API error; boxed, so that `Result<T, ApiError>` stays small.
pub struct ApiError(Box<Details>);

pub struct Details {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<String>,
    pub payment_id: Option<String>,
    /// Seconds, for 409, 429 and 503.
    pub retry_after: Option<u64>,
    /// The cause of a 5xx, for the log only.
    cause: Option<anyhow::Error>,
}

impl std::ops::Deref for ApiError {
    type Target = Details;

    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_ref().map(|cause| cause.as_ref() as _)
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::web::fmt_chain(self, f)
    }
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError(Box::new(Details {
            status,
            kind,
            code: code.into(),
            message: message.into(),
            param: None,
            decline_code: None,
            payment_id: None,
            retry_after: None,
            cause: None,
        }))
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400 about one request field.
    pub fn invalid(param: &str, code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
        .with_param(param)
    }

    pub fn not_found(what: &str, id: &str, param: Option<&str>) -> Self {
        let shown: String = id.chars().take(80).collect();
        let error = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            format!("No such {what}: '{shown}'"),
        );
        match param {
            Some(param) => error.with_param(param),
            None => error,
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            message,
        )
    }

    pub fn unavailable(code: &str, message: &str, cause: anyhow::Error) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", code, message)
            .with_retry_after(1);
        error.cause = Some(cause);
        error
    }

    pub fn internal(cause: anyhow::Error) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal_error",
            "Something went wrong on our side.",
        );
        error.cause = Some(cause);
        error
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind.to_owned(),
                code: self.code.clone(),
                message: self.message.clone(),
                param: self.param.clone(),
                decline_code: self.decline_code.clone(),
                payment_id: self.payment_id.clone(),
            },
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        if crate::db::is_connection_loss(&error) {
            ApiError::unavailable(
                "database_unavailable",
                "The service is temporarily unavailable. Please retry.",
                error.into(),
            )
        } else {
            ApiError::internal(error.into())
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        match error {
            crate::db::DbError::Pool(error) => error.into(),
            crate::db::DbError::Query(error) => error.into(),
        }
    }
}

impl From<crate::db::PoolError> for ApiError {
    /// No connection in time: the database is down or saturated.
    fn from(error: crate::db::PoolError) -> Self {
        ApiError::unavailable(
            "database_unavailable",
            "The service is temporarily unavailable. Please retry.",
            error.into(),
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            let request_id = telemetry::current_request_id();
            if self.status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = ?self, request_id, "API request failed");
            } else {
                tracing::warn!(error = ?self, request_id, "API dependency unavailable");
            }
        }
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        response.json(self.body())
    }
}

/// A field name quoted by serde (`unknown field \`foo\``), if any.
fn quoted_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let field = &message[start..end];
    (!field.is_empty() && field.len() <= 64).then(|| field.to_owned())
}

fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api_error = match &error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "body_too_large",
                format!("The request body is larger than {JSON_LIMIT_BYTES} bytes."),
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_content_type",
            "Send the request body as JSON with `Content-Type: application/json`.",
        ),
        JsonPayloadError::Deserialize(source) if source.is_data() => {
            let message = source.to_string();
            let mut api_error = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                if message.starts_with("missing field") {
                    "parameter_missing"
                } else if message.starts_with("unknown field") {
                    "parameter_unknown"
                } else {
                    "parameter_invalid"
                },
                format!("Invalid request body: {message}"),
            );
            api_error.param = quoted_field(&message).filter(|_| {
                message.starts_with("missing field") || message.starts_with("unknown field")
            });
            api_error
        }
        JsonPayloadError::Deserialize(source) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "malformed_json",
            format!("The request body is not valid JSON: {source}"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "unreadable_body",
            "The request body could not be read.",
        ),
    };
    actix_web::error::InternalError::from_response(error, api_error.error_response()).into()
}

fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = error.to_string();
    let mut api_error = ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "parameter_invalid",
        format!("Invalid query string: {message}"),
    );
    api_error.param = quoted_field(&message);
    actix_web::error::InternalError::from_response(error, api_error.error_response()).into()
}

fn path_error(error: PathError, _req: &HttpRequest) -> actix_web::Error {
    let api_error = ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "resource_missing",
        "No such resource.",
    );
    actix_web::error::InternalError::from_response(error, api_error.error_response()).into()
}

/// JSON bodies for the API scope: 16 KiB at most, failures in the API's shape.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT_BYTES)
        .error_handler(json_error)
}

/// Query strings for the API scope, failures in the API's shape.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(query_error)
}

/// Path parameters for the API scope, failures in the API's shape.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(path_error)
}

/// Unknown routes under /api.
pub async fn route_not_found(req: HttpRequest) -> HttpResponse {
    let path: String = req.path().chars().take(200).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "route_not_found",
        format!("Unrecognized request URL ({} {path}).", req.method()),
    )
    .error_response()
}
