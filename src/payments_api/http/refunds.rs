//! `POST` and `GET /api/v1/payments/{id}/refunds`: refund a payment (all of
//! what is left, or part), and list its refunds, those made by staff and in
//! Stripe's dashboard included.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::ApiKeyId;
use super::dto::{CreateRefund, ListQuery, RefundList, RefundObject};
use super::error::{ApiError, ErrorBody};
use super::find_payment;
use super::validate::{idempotency_key, page_limit, parse_refund};
use crate::ids::RefundId;
use crate::ledger::domain::{Refund, RefundStatus};
use crate::ledger::refunds;
use crate::money::Money;
use crate::payments_api::domain::RefundRequest;
use crate::payments_api::refund::{self, MORE_THAN_LEFT, NOTHING_LEFT, RefundError};
use crate::payments_api::store::Unrefundable;
use crate::state::AppState;

/// `POST /api/v1/payments/{id}/refunds`.
#[utoipa::path(
    post,
    path = "/api/v1/payments/{id}/refunds",
    tag = "refunds",
    params(
        ("id" = String, Path, description = "The payment id, `pay_…`."),
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
         description = "Required. Retrying with the same key and body replays the first answer (with `Idempotent-Replayed: true`); the same key with another request answers 422."),
    ),
    request_body = CreateRefund,
    responses(
        (status = 201, description = "Refunded.", body = RefundObject),
        (status = 202, description = "The payment provider accepted the refund; the money is on its way back (`pending`, or `requires_action`).", body = RefundObject),
        (status = 400, description = "Invalid amount, reason, body, or missing Idempotency-Key.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such payment.", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is in flight.", body = ErrorBody),
        (status = 413, description = "Body larger than 16 KiB.", body = ErrorBody),
        (status = 415, description = "Body is not JSON.", body = ErrorBody),
        (status = 422, description = "The payment cannot be refunded (not succeeded: `payment_not_refundable`; all refunded: `payment_fully_refunded`; more than is left: `refund_too_large`), the payment provider refused the refund, or the Idempotency-Key was used for another request.", body = ErrorBody),
        (status = 429, description = "Rate limited by the payment provider: retry with the same key.", body = ErrorBody),
        (status = 503, description = "The payment provider or database is unavailable: nothing new was refunded; retry with the same key.", body = ErrorBody),
    )
)]
pub async fn create_refund(
    state: web::Data<AppState>,
    key: web::ReqData<ApiKeyId>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<CreateRefund>,
) -> Result<HttpResponse, ApiError> {
    let api_key = key.into_inner().0;
    let idem = idempotency_key(&req)?;
    let payment = find_payment(&state, &id).await?;
    let request = parse_refund(body.into_inner(), &payment)?;
    let answer = refund::refund(
        &state.stripe,
        &state.db,
        api_key,
        &idem,
        &request,
        respond_to_refund,
    )
    .await
    .map_err(refund_error)?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if answer.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(answer.body))
}

fn unprocessable(code: &str, message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request_error",
        code,
        message,
    )
}

fn too_large(left: Money) -> ApiError {
    unprocessable(
        "refund_too_large",
        format!(
            "The refund is larger than what is left of the payment ({} {}).",
            left.decimal(),
            left.currency().code().to_ascii_lowercase()
        ),
    )
    .with_param("amount")
}

fn fully_refunded() -> ApiError {
    unprocessable(
        "payment_fully_refunded",
        "This payment has been refunded in full already.".into(),
    )
}

/// A refund request without an answer of its own, as the API tells it.
fn refund_error(error: RefundError) -> ApiError {
    match error {
        RefundError::Unrefundable(Unrefundable::NotSucceeded) => unprocessable(
            "payment_not_refundable",
            "Only a succeeded payment can be refunded.".into(),
        ),
        RefundError::Unrefundable(Unrefundable::NothingLeft) => fully_refunded(),
        RefundError::Unrefundable(Unrefundable::MoreThanLeft(left)) => too_large(left),
        RefundError::KeyReused => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_error",
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request. Use a new key for a new refund.",
        ),
        RefundError::KeyInUse => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is being processed. Retry shortly.",
        )
        .with_retry_after(1),
        RefundError::OutcomeUnknown => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "refund_outcome_unknown",
            "This refund's outcome from the payment provider was lost and it is too old to ask again safely: its events will settle it. List the payment's refunds later.",
        ),
        RefundError::Provider(error) if error.status() == Some(409) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "idempotency_key_in_use",
            "The payment provider is still processing this request. Retry shortly.",
        )
        .with_retry_after(1),
        RefundError::Provider(error) if error.status() == Some(429) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limited",
            "Too many requests to the payment provider. Retry after a short wait with the same Idempotency-Key.",
        )
        .with_retry_after(1),
        RefundError::Provider(error) => ApiError::unavailable(
            "payment_provider_unavailable",
            "The payment provider could not be reached. Retry with the same Idempotency-Key.",
            error.into(),
        ),
        RefundError::Database(error) => error.into(),
    }
}

/// The answer to a refund request, stored for replays: the refund (201,
/// or 202 while on its way), or why the payment provider would not make it
/// (422).
fn respond_to_refund(refund: &Refund, request: &RefundRequest) -> (u16, serde_json::Value) {
    let status = match refund.status() {
        RefundStatus::Refused => {
            let error = match refund.failure_reason.as_deref() {
                Some(NOTHING_LEFT) => fully_refunded(),
                Some(MORE_THAN_LEFT) => unprocessable(
                    "refund_too_large",
                    "The refund is larger than what is left of the payment.".into(),
                )
                .with_param("amount"),
                _ => unprocessable(
                    "refund_rejected",
                    "The payment provider refused the refund: nothing was refunded.".into(),
                ),
            };
            return (422, serde_json::to_value(error.body()).unwrap_or_default());
        }
        RefundStatus::Succeeded => 201,
        _ => 202,
    };
    let body = RefundObject::from_refund(refund, request.payment_id.as_str(), request.currency);
    (status, serde_json::to_value(body).unwrap_or_default())
}

/// `GET /api/v1/payments/{id}/refunds`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/payments/{id}/refunds",
    tag = "refunds",
    params(
        ("id" = String, Path, description = "The payment id, `pay_…`."),
        ListQuery,
    ),
    responses(
        (status = 200, description = "A page of the payment's refunds, newest first.", body = RefundList),
        (status = 400, description = "Invalid `limit` or `starting_after`.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such payment.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn list_refunds(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<RefundList>, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let payment = find_payment(&state, &id).await?;
    let url = format!("/api/v1/payments/{}/refunds", payment.id);
    let Some(payment_intent) = payment.stripe_payment_intent_id.as_deref() else {
        // Never charged: nothing to refund, nothing refunded.
        if query.starting_after.is_some() {
            return Err(bad_cursor());
        }
        return Ok(web::Json(RefundList {
            object: "list".into(),
            url,
            data: Vec::new(),
            has_more: false,
        }));
    };
    let mut conn = state.reads.get().await?;
    let cursor = match query.starting_after.as_deref() {
        None => None,
        Some(after) => {
            let refund = match RefundId::parse(after) {
                Some(id) => refunds::find_public(&mut conn, &id).await?,
                None => None,
            };
            Some(
                refund
                    .filter(|r| r.payment_intent_id == payment_intent)
                    .ok_or_else(bad_cursor)?,
            )
        }
    };
    let (rows, has_more) =
        refunds::of_payment_intent(&mut conn, payment_intent, cursor.as_ref(), limit).await?;
    Ok(web::Json(RefundList {
        object: "list".into(),
        url,
        data: rows
            .iter()
            .map(|refund| RefundObject::from_refund(refund, &payment.id, payment.currency))
            .collect(),
        has_more,
    }))
}

fn bad_cursor() -> ApiError {
    ApiError::invalid(
        "starting_after",
        "resource_missing",
        "starting_after must be the id of one of this payment's refunds.",
    )
}
