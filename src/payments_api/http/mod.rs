//! The payments API's handlers: input parsed into domain types first
//! (`validate`), answers and errors in the API's JSON shapes (`dto`,
//! `error`). The routes are in `crate::routes`; each handler's
//! `#[utoipa::path]` documents the same path and verb for the OpenAPI
//! document (`openapi`).

pub mod auth;
pub mod dto;
pub mod error;
pub mod events;
pub mod openapi;
pub mod refunds;
pub mod validate;
pub mod webhook_endpoints;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use self::auth::ApiKeyId;
use self::dto::{CreatePayment, ListQuery, PaymentList, PaymentObject, UpdatePayment};
use self::error::{ApiError, ErrorBody};
use self::validate::{
    account_missing, apply_metadata, idempotency_key, page_limit, parse_create, parse_description,
};
use super::debit::{self, DebitError, Verdict};
use super::domain::DebitRequest;
use crate::ids::{AccountId, PaymentId};
use crate::ledger::domain::{Payment, PaymentStatus};
use crate::ledger::store::{self as ledger, History};
use crate::state::AppState;

pub(super) fn payment_missing(id: &str) -> ApiError {
    ApiError::not_found("payment", id, Some("id"))
}

/// The payment with this id (404 for anything else), as of this request
/// at least (`db::Reads`: the standby when it has caught up).
pub(super) async fn find_payment(state: &AppState, id: &str) -> Result<Payment, ApiError> {
    let parsed = PaymentId::parse(id).ok_or_else(|| payment_missing(id))?;
    let mut conn = state.reads.get().await?;
    ledger::find_payment(&mut conn, &parsed)
        .await?
        .ok_or_else(|| payment_missing(id))
}

/// `POST /api/v1/payments`: debits the account's saved card off-session,
/// now or (`"confirm": "async"`) queued for the queue worker.
#[utoipa::path(
    post,
    path = "/api/v1/payments",
    tag = "payments",
    params(
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
         description = "Required. Retrying with the same key and body replays the first answer (with `Idempotent-Replayed: true`); the same key with another body answers 422."),
    ),
    request_body = CreatePayment,
    responses(
        (status = 201, description = "The card was charged.", body = PaymentObject),
        (status = 202, description = "Accepted, not settled yet: with `\"confirm\": \"async\"` the debit is queued (`status: queued`) and charged in turn; otherwise the payment provider is still processing the charge (`status: processing`). `GET /api/v1/payments/{id}` shows its outcome.", body = PaymentObject),
        (status = 400, description = "Invalid request (amount, currency, confirm, body, missing Idempotency-Key).", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 402, description = "The card was declined (`card_declined` with `decline_code`) or needs the cardholder (`authentication_required`).", body = ErrorBody),
        (status = 404, description = "No such account.", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is in flight.", body = ErrorBody),
        (status = 413, description = "Body larger than 16 KiB.", body = ErrorBody),
        (status = 415, description = "Body is not JSON.", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another request, or no saved card.", body = ErrorBody),
        (status = 429, description = "Rate limited by the payment provider.", body = ErrorBody),
        (status = 503, description = "The payment provider or database is unavailable, or more debits queue for the provider than `DEBIT_QUEUE_WAIT_MS` lets through (`Retry-After`); nothing new was charged: retry with the same key.", body = ErrorBody),
    )
)]
pub async fn create_payment(
    state: web::Data<AppState>,
    key: web::ReqData<ApiKeyId>,
    req: HttpRequest,
    body: web::Json<CreatePayment>,
) -> Result<HttpResponse, ApiError> {
    let api_key = key.into_inner().0;
    let idem = idempotency_key(&req)?;
    let request = parse_create(body.into_inner())?;
    let answer = debit::debit(
        &state.stripe,
        &state.db,
        api_key,
        &idem,
        &request,
        respond_to_debit,
    )
    .await
    .map_err(|error| debit_error(error, &request))?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if answer.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(answer.body))
}

/// A debit without an answer of its own, as the API tells it.
fn debit_error(error: DebitError, request: &DebitRequest) -> ApiError {
    match error {
        DebitError::AccountMissing => account_missing(request.account_id.as_str()),
        DebitError::NoSavedCard => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            "no_saved_payment_method",
            "This account has no saved card. The shopper can save one at checkout (\"Save my card for next time\").",
        )
        .with_param("account_id"),
        DebitError::KeyReused => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_error",
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request. Use a new key for a new payment.",
        ),
        DebitError::KeyInUse => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is being processed. Retry shortly.",
        )
        .with_retry_after(1),
        DebitError::ProviderBusy => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "idempotency_key_in_use",
            "The payment provider is still processing this request. Retry shortly.",
        )
        .with_retry_after(1),
        DebitError::OutcomeUnknown => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "payment_outcome_unknown",
            "This payment's outcome from the payment provider was lost and it is too old to ask again safely: it will be settled by the provider's notification. Check the payment later.",
        ),
        DebitError::Provider(error) if error.status() == Some(429) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limited",
            "Too many requests to the payment provider. Retry after a short wait.",
        )
        .with_retry_after(1),
        DebitError::Provider(error) => ApiError::unavailable(
            "payment_provider_unavailable",
            "The payment provider could not be reached. Nothing new was charged; retry with the same Idempotency-Key.",
            error.into(),
        ),
        DebitError::QueueFull { retry_after } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "payment_provider_queue_full",
            "More debits are waiting for the payment provider than can be sent in time. Nothing was charged; retry with the same Idempotency-Key.",
        )
        .with_retry_after(retry_after.as_secs()),
        DebitError::Database(error) => error.into(),
        error @ DebitError::Incomplete(_) => ApiError::internal(error.into()),
    }
}

/// The answer to a debit, stored for replays.
fn respond_to_debit(payment: &Payment, verdict: Verdict) -> (u16, serde_json::Value) {
    let object = || serde_json::to_value(PaymentObject::from_payment(payment)).unwrap_or_default();
    match (verdict, payment.status) {
        (Verdict::Answered, PaymentStatus::Succeeded) => (201, object()),
        (Verdict::Answered, PaymentStatus::Queued | PaymentStatus::Processing) => (202, object()),
        (Verdict::Rejected, _) => {
            let mut error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request_error",
                "payment_rejected",
                format!(
                    "The payment provider rejected the debit{}",
                    payment
                        .failure_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_else(|| ".".into())
                ),
            );
            error.payment_id = Some(payment.id.clone());
            (422, serde_json::to_value(error.body()).unwrap_or_default())
        }
        _ => {
            let code = payment
                .failure_code
                .clone()
                .unwrap_or_else(|| "card_declined".into());
            let message = payment.failure_message.clone().unwrap_or_else(|| {
                if code == "authentication_required" {
                    "The card requires authentication: ask the cardholder to pay in the shop."
                        .into()
                } else {
                    "The card was declined.".into()
                }
            });
            let mut error =
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_error", code, message);
            error.decline_code = payment.decline_code.clone();
            error.payment_id = Some(payment.id.clone());
            (402, serde_json::to_value(error.body()).unwrap_or_default())
        }
    }
}

/// `GET /api/v1/payments/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/payments/{id}",
    tag = "payments",
    params(("id" = String, Path, description = "The payment id, `pay_…`.")),
    responses(
        (status = 200, description = "The payment.", body = PaymentObject),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such payment.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn get_payment(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<PaymentObject>, ApiError> {
    let payment = find_payment(&state, &id).await?;
    Ok(web::Json(PaymentObject::from_payment(&payment)))
}

/// `PATCH /api/v1/payments/{id}`: optimistic concurrency on `version`.
#[utoipa::path(
    patch,
    path = "/api/v1/payments/{id}",
    tag = "payments",
    params(("id" = String, Path, description = "The payment id, `pay_…`.")),
    request_body = UpdatePayment,
    responses(
        (status = 200, description = "The updated payment, with `version` incremented.", body = PaymentObject),
        (status = 400, description = "Invalid description, metadata, version or body.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such payment.", body = ErrorBody),
        (status = 409, description = "`version` is stale: nothing was changed. Read the payment again.", body = ErrorBody),
        (status = 413, description = "Body larger than 16 KiB.", body = ErrorBody),
        (status = 415, description = "Body is not JSON.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn update_payment(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<UpdatePayment>,
) -> Result<web::Json<PaymentObject>, ApiError> {
    let body = body.into_inner();
    // No payment ever has such a version: a bad request, not a stale one.
    let version = i32::try_from(body.version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            ApiError::invalid(
                "version",
                "parameter_invalid",
                "version must be the payment's version as you last read it (1 or more).",
            )
        })?;
    let description = match body.description {
        None => None,
        Some(d) => Some(parse_description(Some(d))?),
    };
    let payment = find_payment(&state, &id).await?;
    let mut conn = state.db.get().await?;
    let conflict = |current: i32| {
        ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "version_conflict",
            format!(
                "The payment was changed since you read it (current version {current}). Read it again and retry."
            ),
        )
        .with_param("version")
    };
    if version != payment.version {
        return Err(conflict(payment.version));
    }
    let mut metadata = PaymentObject::from_payment(&payment).metadata;
    if let Some(changes) = body.metadata {
        apply_metadata(&mut metadata, changes)?;
    }
    let description = match description {
        Some(new) => new,
        None => payment.description.clone(),
    };
    let updated = ledger::update_if_version(
        &mut conn,
        &payment.id,
        version,
        description.as_deref(),
        &metadata,
    )
    .await?;
    match updated {
        Some(updated) => Ok(web::Json(PaymentObject::from_payment(&updated))),
        // Someone else updated it between our read and our write.
        None => {
            let id = PaymentId::parse(&payment.id).ok_or_else(|| payment_missing(&payment.id))?;
            let current = ledger::find_payment(&mut conn, &id)
                .await?
                .map_or(payment.version, |p| p.version);
            Err(conflict(current))
        }
    }
}

/// `GET /api/v1/accounts/{account_id}/payments`: newest first, browser
/// checkouts and API debits alike.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/payments",
    tag = "payments",
    params(
        ("account_id" = String, Path, description = "The account id, `acct_…`."),
        ListQuery,
    ),
    responses(
        (status = 200, description = "A page of the account's payments, newest first.", body = PaymentList),
        (status = 400, description = "Invalid `limit` or `starting_after`.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such account.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn list_payments(
    state: web::Data<AppState>,
    account_id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<PaymentList>, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let account_id = AccountId::parse(&account_id).ok_or_else(|| account_missing(&account_id))?;
    let cursor_missing = || {
        ApiError::invalid(
            "starting_after",
            "resource_missing",
            "starting_after must be the id of one of this account's payments.",
        )
    };
    let after = match query.starting_after.as_deref() {
        None => None,
        Some(after) => Some(PaymentId::parse(after).ok_or_else(cursor_missing)?),
    };
    let mut conn = state.reads.get().await?;
    let (payments, has_more) =
        match ledger::history(&mut conn, &account_id, after.as_ref(), limit).await? {
            History::NoSuchAccount => return Err(account_missing(account_id.as_str())),
            History::NoSuchCursor => return Err(cursor_missing()),
            History::Page { payments, has_more } => (payments, has_more),
        };
    Ok(web::Json(PaymentList {
        object: "list".into(),
        url: format!("/api/v1/accounts/{}/payments", account_id.as_str()),
        data: payments.iter().map(PaymentObject::from_payment).collect(),
        has_more,
    }))
}
