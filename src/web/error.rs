//! The error boundary for HTML routes.
//!
//! Policy: handlers return `Result<_, AppError>`. Variants other than
//! `Unexpected` and `Unavailable` carry a message written for shoppers and are
//! shown as is. `Unexpected` is logged once here with its cause chain, and the
//! shopper sees only a generic page with the request id: a 5xx never shows
//! internals. Model code returns `diesel::QueryResult`; plumbing uses anyhow
//! with `.context()` at each step.

use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::Layout;
use crate::db::batch::BatchError;
use crate::db::{DbError, PoolError};
use crate::telemetry;

#[derive(thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request body is not a form")]
    UnsupportedMediaType,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    pub fn page_not_found() -> Self {
        AppError::NotFound("We couldn't find the page you were looking for.".into())
    }
}

/// Writes an error and its whole cause chain, one per line: what our error
/// types' `Debug` prints, so a log line explains the failure.
pub fn fmt_chain(
    error: &dyn std::error::Error,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    writeln!(f, "{error}")?;
    let mut source = error.source();
    while let Some(cause) = source {
        writeln!(f, "Caused by: {cause}")?;
        source = cause.source();
    }
    Ok(())
}

impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fmt_chain(self, f)
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        AppError::Unexpected(error.into())
    }
}

impl AppError {
    /// An unexpected error whose cause is a lost database connection or an
    /// exhausted pool, wherever it was wrapped: a 503, not a 500.
    fn is_outage(&self) -> bool {
        let AppError::Unexpected(error) = self else {
            return false;
        };
        error.chain().any(|cause| {
            cause
                .downcast_ref::<diesel::result::Error>()
                .is_some_and(crate::db::is_connection_loss)
                || cause.downcast_ref::<PoolError>().is_some()
        })
    }
}

impl From<PoolError> for AppError {
    /// No connection within the pool's wait timeout means the database is
    /// down or saturated: answer 503 fast rather than hang.
    fn from(error: PoolError) -> Self {
        AppError::Unavailable(error.into())
    }
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Pool(error) => error.into(),
            DbError::Query(error) => error.into(),
        }
    }
}

impl From<BatchError> for AppError {
    fn from(error: BatchError) -> Self {
        match error {
            BatchError::Unavailable(_) => AppError::Unavailable(error.into()),
            BatchError::Database(error) => error.into(),
            BatchError::Lost => AppError::Unexpected(error.into()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    error: ErrorWords,
}

/// What an error page tells the person, in the shop or the back office.
#[derive(Debug)]
pub struct ErrorWords {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    /// For a fault of ours: the reference under which the logs have it.
    pub request_id: Option<String>,
}

impl AppError {
    /// What the error page says.
    pub fn words(&self) -> ErrorWords {
        let status = self.status_code();
        let (title, message) = self.title_and_message();
        ErrorWords {
            status: status.as_u16(),
            title,
            message,
            request_id: status
                .is_server_error()
                .then(telemetry::current_request_id)
                .flatten(),
        }
    }

    fn title_and_message(&self) -> (&'static str, String) {
        match self {
            AppError::NotFound(message) => ("Not found", message.clone()),
            AppError::BadRequest(message) => ("Please check your input", message.clone()),
            AppError::Forbidden(message) => ("Please try again", message.clone()),
            AppError::TooManyRequests { retry_after_secs } => (
                "Slow down a little",
                format!(
                    "That was a lot of requests in a short time. Please try again in {retry_after_secs} seconds."
                ),
            ),
            AppError::PayloadTooLarge => (
                "Request too large",
                "That request was larger than we accept. Please try again with less data.".into(),
            ),
            AppError::UnsupportedMediaType => (
                "Please use the form",
                "We only accept this form as a browser sends it. Please go back and submit \
                 the form on the page."
                    .into(),
            ),
            _ if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => (
                "We'll be right back",
                "The shop is temporarily unavailable. Please try again in a moment.".into(),
            ),
            AppError::Unavailable(_) | AppError::Unexpected(_) => (
                "Something went wrong",
                "Something went wrong on our side. Please try again.".into(),
            ),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) if self.is_outage() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = ?self, "service unavailable");
        } else if status.is_server_error() {
            tracing::error!(error = ?self, "unexpected error");
        }
        let page = ErrorPage {
            layout: Layout::default(),
            error: self.words(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "Something went wrong.".into());
        let mut response = HttpResponse::build(status);
        if let AppError::TooManyRequests { retry_after_secs } = self {
            response.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
        }
        response.content_type(ContentType::html()).body(body)
    }
}
