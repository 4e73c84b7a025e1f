//! The payments API's handlers. Input is parsed into domain types first
//! (exact amounts, our ids); Stripe is never called with a transaction or a
//! pooled connection held.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiKeyId;
use super::error::{ApiError, ErrorBody};
use super::models::{self, Account, Claim, DebitRequest, Outcome, Payment, PaymentStatus};
use crate::money::{Currency, Money, MoneyError};
use crate::startup::AppState;
use crate::stripe::{Form, StripeError};

/// Stripe's largest charge in two-decimal currencies (and a sane cap for all).
const MAX_AMOUNT_MINOR: i64 = 99_999_999;
const MAX_DESCRIPTION_CHARS: usize = 1000;
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;

/// A payment: a browser checkout (`source: checkout`) or an off-session debit
/// through this API (`source: api`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentObject {
    /// Our id, `pay_…`.
    #[schema(example = "pay_3xV9kQ2mT8bN4cR7wY1zLp")]
    pub id: String,
    /// Always `payment`.
    #[schema(example = "payment")]
    pub object: String,
    /// Our account id, `acct_…` (not Stripe's customer id).
    pub account_id: String,
    /// The amount as an exact decimal string in the currency's unit.
    #[schema(example = "42.99")]
    pub amount: String,
    /// The amount in the currency's minor unit (cents; yen for JPY).
    #[schema(example = 4299)]
    pub amount_minor: i64,
    /// How much of it Stripe has refunded, as an exact decimal string.
    #[schema(example = "10.00")]
    pub amount_refunded: String,
    /// The same in the currency's minor unit.
    #[schema(example = 1000)]
    pub amount_refunded_minor: i64,
    /// ISO 4217 code, lowercase.
    #[schema(example = "usd")]
    pub currency: String,
    /// `processing`, `succeeded`, `failed` or `requires_action`.
    pub status: String,
    /// `checkout` (paid in the shop) or `api` (debited through this API).
    pub source: String,
    /// The shop order a checkout payment paid.
    pub order_id: Option<i64>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Why a debit failed, e.g. `card_declined`, `authentication_required`.
    pub failure_code: Option<String>,
    /// The issuer's reason for a decline, as Stripe reports it.
    pub decline_code: Option<String>,
    pub failure_message: Option<String>,
    /// Increments on every update; send it back with PATCH.
    pub version: i32,
    /// RFC 3339 time the payment was created.
    pub created_at: String,
}

impl PaymentObject {
    pub fn from_payment(payment: &Payment) -> Self {
        let (amount, currency) = match payment.money() {
            Some(money) => (decimal(money), money.currency().code().to_ascii_lowercase()),
            None => (
                payment.amount_minor.to_string(),
                payment.currency.to_ascii_lowercase(),
            ),
        };
        let amount_refunded = payment
            .refunded()
            .map_or_else(|| payment.amount_refunded_minor.to_string(), decimal);
        let metadata = match &payment.metadata {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), value)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        PaymentObject {
            id: payment.id.clone(),
            object: "payment".into(),
            account_id: payment.account_id.clone(),
            amount,
            amount_minor: payment.amount_minor,
            amount_refunded,
            amount_refunded_minor: payment.amount_refunded_minor,
            currency,
            status: payment.status.clone(),
            source: if payment.order_id.is_some() {
                "checkout"
            } else {
                "api"
            }
            .into(),
            order_id: payment.order_id,
            description: payment.description.clone(),
            metadata,
            failure_code: payment.failure_code.clone(),
            decline_code: payment.decline_code.clone(),
            failure_message: payment.failure_message.clone(),
            version: payment.version,
            created_at: payment
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        }
    }
}

/// "42.99" for 4299 USD cents, "4300" for 4300 JPY: exact, no floats.
pub fn decimal(money: Money) -> String {
    let exponent = money.currency().exponent();
    let unit = 10_i64.pow(exponent);
    let (whole, fraction) = (money.minor() / unit, money.minor() % unit);
    if exponent == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{fraction:0width$}", width = exponent as usize)
    }
}

/// A list page, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentList {
    /// Always `list`.
    #[schema(example = "list")]
    pub object: String,
    pub url: String,
    pub data: Vec<PaymentObject>,
    /// Whether older payments follow: pass the last id as `starting_after`.
    pub has_more: bool,
}

/// Debit an account's saved card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    /// Our account id, `acct_…`.
    #[schema(
        example = "acct_7hQ2mX9vB4nK1pL8cT3wZr",
        pattern = "^acct_[A-Za-z0-9]{16,64}$"
    )]
    pub account_id: String,
    /// A decimal string with at most as many decimals as the currency has
    /// ("42.99" USD, "4300" JPY), at least Stripe's minimum charge (0.50 USD
    /// or EUR, 0.30 GBP, 50 JPY). Numbers are refused: no floats for money.
    #[schema(example = "42.99", pattern = "^[0-9]{1,8}(\\.[0-9]{1,2})?$")]
    pub amount: String,
    /// `usd`, `eur`, `gbp` or `jpy` (any case).
    #[schema(example = "usd", pattern = "^(usd|eur|gbp|jpy|USD|EUR|GBP|JPY)$")]
    pub currency: String,
    #[schema(max_length = 1000, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
}

/// Change a payment's description or metadata.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayment {
    /// The new description; an empty string removes it.
    #[schema(max_length = 1000, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
    /// Keys to set; a key with `null` or `""` is removed. Other keys stay.
    /// Keys: 1 to 40 characters without square brackets; values: at most
    /// 500 characters; at most 50 keys in all.
    pub metadata: Option<BTreeMap<String, Option<String>>>,
    /// The `version` you last read; a stale one answers 409 and changes nothing.
    #[schema(minimum = 1)]
    pub version: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// A payment id from the previous page: list the payments older than it.
    pub starting_after: Option<String>,
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

fn parse_description(description: Option<String>) -> Result<Option<String>, ApiError> {
    match description {
        None => Ok(None),
        Some(d) if d.is_empty() => Ok(None),
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS || has_nul(&d) => {
            Err(ApiError::invalid(
                "description",
                "parameter_invalid",
                "The description must be at most 1000 characters, without NUL characters.",
            ))
        }
        Some(d) => Ok(Some(d)),
    }
}

fn parse_amount(amount: &str, currency: Currency) -> Result<Money, ApiError> {
    let invalid = |code: &str, message: String| ApiError::invalid("amount", code, message);
    let money = Money::parse_decimal(amount, currency).map_err(|error| match error {
        MoneyError::TooPrecise { currency, exponent } => invalid(
            "amount_too_precise",
            format!("{currency} amounts have at most {exponent} decimal places."),
        ),
        MoneyError::Negative => {
            invalid("amount_invalid", "The amount must be positive.".to_owned())
        }
        MoneyError::Overflow => invalid("amount_too_large", "The amount is too large.".to_owned()),
        _ => invalid(
            "amount_invalid",
            "The amount must be a decimal string such as \"42.99\".".to_owned(),
        ),
    })?;
    let minimum = currency.minimum_charge();
    if money.minor() < minimum {
        return Err(invalid(
            "amount_too_small",
            format!(
                "The amount must be at least {} (the payment provider's minimum).",
                decimal(Money::new(minimum, currency).unwrap_or(Money::zero(currency)))
            ),
        ));
    }
    if money.minor() > MAX_AMOUNT_MINOR {
        return Err(invalid(
            "amount_too_large",
            format!(
                "The amount must be at most {}.",
                decimal(Money::new(MAX_AMOUNT_MINOR, currency).unwrap_or(Money::zero(currency)))
            ),
        ));
    }
    Ok(money)
}

fn parse_create(body: CreatePayment) -> Result<DebitRequest, ApiError> {
    let currency: Currency = body.currency.parse().map_err(|_| {
        ApiError::invalid(
            "currency",
            "currency_unsupported",
            "The currency must be one of usd, eur, gbp or jpy.",
        )
    })?;
    let amount = parse_amount(&body.amount, currency)?;
    Ok(DebitRequest {
        account_id: body.account_id,
        amount,
        description: parse_description(body.description)?,
    })
}

/// The Idempotency-Key header: required, 1 to 255 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req.headers().get("idempotency-key").ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "idempotency_key_missing",
            "Send an Idempotency-Key header (e.g. a UUID) so that retries cannot debit twice.",
        )
    })?;
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "idempotency_key_invalid",
                "The Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
        })?;
    Ok(key.to_owned())
}

fn json_response(status: u16, body: &serde_json::Value, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(body)
}

#[derive(Deserialize)]
struct StripeList {
    data: Vec<StripeObject>,
}

#[derive(Deserialize)]
struct StripeObject {
    id: String,
}

#[derive(Deserialize)]
struct StripeIntent {
    id: String,
    status: String,
}

fn provider_unavailable(error: StripeError) -> ApiError {
    if error.status() == Some(429) {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limited",
            "Too many requests to the payment provider. Retry after a short wait.",
        )
        .with_retry_after(1);
    }
    ApiError::unavailable(
        "payment_provider_unavailable",
        "The payment provider could not be reached. Nothing new was charged; retry with the same Idempotency-Key.",
        error.into(),
    )
}

fn no_saved_card() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request_error",
        "no_saved_payment_method",
        "This account has no saved card. The shopper can save one at checkout (\"Save my card for next time\").",
    )
    .with_param("account_id")
}

/// The card the customer saved most recently.
async fn saved_payment_method(state: &AppState, customer_id: &str) -> Result<String, ApiError> {
    let path = format!(
        "/v1/customers/{}/payment_methods?type=card&limit=1",
        customer_id
    );
    match state.payments.client.get::<StripeList>(&path).await {
        Ok(list) => list
            .data
            .into_iter()
            .next()
            .map(|pm| pm.id)
            .ok_or_else(no_saved_card),
        // Our Stripe key refused (a rotation, say) is ours to fix, not the card.
        Err(error) if error.is_outage() || matches!(error.status(), Some(401 | 403)) => {
            Err(provider_unavailable(error))
        }
        Err(error) => {
            tracing::warn!(%error, "could not list the customer's payment methods");
            Err(no_saved_card())
        }
    }
}

/// `POST /api/v1/payments`: debits the account's saved card off-session.
#[utoipa::path(
    tag = "payments",
    params(
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
         description = "Required. Retrying with the same key and body replays the first answer (with `Idempotent-Replayed: true`); the same key with another body answers 422."),
    ),
    request_body = CreatePayment,
    responses(
        (status = 201, description = "The card was charged.", body = PaymentObject),
        (status = 202, description = "The payment provider is still processing the charge.", body = PaymentObject),
        (status = 400, description = "Invalid request (amount, currency, body, missing Idempotency-Key).", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 402, description = "The card was declined (`card_declined` with `decline_code`) or needs the cardholder (`authentication_required`).", body = ErrorBody),
        (status = 404, description = "No such account.", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is in flight.", body = ErrorBody),
        (status = 413, description = "Body larger than 16 KiB.", body = ErrorBody),
        (status = 415, description = "Body is not JSON.", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another request, or no saved card.", body = ErrorBody),
        (status = 429, description = "Rate limited by the payment provider.", body = ErrorBody),
        (status = 503, description = "The payment provider or database is unavailable; retry with the same key.", body = ErrorBody),
    )
)]
#[post("/payments")]
pub async fn create_payment(
    state: web::Data<AppState>,
    key: web::ReqData<ApiKeyId>,
    req: HttpRequest,
    body: web::Json<CreatePayment>,
) -> Result<HttpResponse, ApiError> {
    let api_key = key.into_inner().0;
    let idem = idempotency_key(&req)?;
    let request = parse_create(body.into_inner())?;
    let account_missing =
        || ApiError::not_found("account", &request.account_id, Some("account_id"));

    // A request in flight holds its key while Stripe may still answer it
    // (plus the database work around the call).
    let lock_for = state.payments.client.worst_case_duration() + Duration::from_secs(10);
    let mut conn = state.db.get().await?;
    let account = Account::find(&mut conn, &request.account_id)
        .await?
        .ok_or_else(account_missing)?;
    let claim = match models::existing_claim(&mut conn, api_key, &idem, &request, lock_for).await? {
        Some(claim) => claim,
        None => {
            // A new request: find the saved card first (a Stripe GET, with no
            // connection held), then claim the key with it.
            let customer = account
                .stripe_customer_id
                .clone()
                .ok_or_else(no_saved_card)?;
            drop(conn);
            let payment_method = saved_payment_method(&state, &customer).await?;
            let mut conn = state.db.get().await?;
            models::insert_claim(
                &mut conn,
                api_key,
                &idem,
                &request,
                &customer,
                &payment_method,
                lock_for,
            )
            .await?
        }
    };
    match claim {
        Claim::Replay { status, body } => Ok(json_response(status, &body, true)),
        Claim::Mismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_error",
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request. Use a new key for a new payment.",
        )),
        Claim::InFlight => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is being processed. Retry shortly.",
        )
        .with_retry_after(1)),
        Claim::Resumed(payment) if payment.status != PaymentStatus::Processing.as_str() => {
            // Its webhook settled it after the first request lost Stripe's
            // answer: answer from it, without asking Stripe again (whose
            // idempotency key may have expired by now).
            let (status, body) = respond_to_debit(&payment, None);
            let mut conn = state.db.get().await?;
            models::store_answer(&mut conn, api_key, &idem, status, &body).await?;
            Ok(json_response(status, &body, false))
        }
        Claim::Resumed(payment)
            if chrono::Utc::now() - payment.created_at > STRIPE_KEY_LIFETIME =>
        {
            // Stripe keeps idempotency keys for 24 hours: asked again now, it
            // could charge a second time. Its webhook will settle it.
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_error",
                "payment_outcome_unknown",
                "This payment's outcome from the payment provider was lost and it is too old to ask again safely: it will be settled by the provider's notification. Check the payment later.",
            ))
        }
        Claim::Fresh(payment) | Claim::Resumed(payment) => {
            charge(&state, api_key, &idem, payment, &request).await
        }
    }
}

/// How long after a debit began a retry may still ask Stripe again with the
/// same idempotency key (Stripe keeps keys for 24 hours; an hour to spare).
const STRIPE_KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(23);

/// Creates the confirmed off-session PaymentIntent (Stripe's Idempotency-Key
/// is derived from our payment id, so a resumed request cannot charge twice),
/// then records the outcome and the answer for the key. What Stripe is sent
/// comes from the key's `request`, not the payment as it is now: a PATCH in
/// between must not change a resumed call's parameters (Stripe would refuse
/// its key, and the first call may have charged).
async fn charge(
    state: &AppState,
    api_key: i64,
    idem: &str,
    payment: Payment,
    request: &DebitRequest,
) -> Result<HttpResponse, ApiError> {
    let (Some(customer), Some(payment_method)) = (
        payment.stripe_customer_id.as_deref(),
        payment.stripe_payment_method_id.as_deref(),
    ) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "payment {} has no customer or payment method",
            payment.id
        )));
    };
    let form = Form::new()
        .field("amount", payment.amount_minor)
        .field("currency", payment.currency.to_ascii_lowercase())
        .field("customer", customer)
        .field("payment_method", payment_method)
        .field("confirm", "true")
        .field("off_session", "true")
        .optional("description", request.description.as_deref())
        .field("metadata[payment_id]", &payment.id)
        .field("metadata[account_id]", &payment.account_id);
    let stripe_key = format!("storefront-debit-{}", payment.id);
    let result: Result<StripeIntent, StripeError> = state
        .payments
        .client
        .post("/v1/payment_intents", &form, &stripe_key)
        .await;
    let (outcome, error) = match &result {
        Ok(intent) => {
            let status = match intent.status.as_str() {
                "succeeded" => PaymentStatus::Succeeded,
                "processing" => PaymentStatus::Processing,
                "requires_action" | "requires_confirmation" => PaymentStatus::RequiresAction,
                _ => PaymentStatus::Failed,
            };
            let failure = match status {
                PaymentStatus::RequiresAction => Some("authentication_required"),
                PaymentStatus::Failed => Some("payment_failed"),
                _ => None,
            };
            let outcome = Outcome {
                status,
                payment_intent_id: Some(intent.id.as_str()),
                failure_code: failure,
                decline_code: None,
                failure_message: None,
            };
            (outcome, None)
        }
        Err(StripeError::Api {
            status: 402, body, ..
        }) => {
            let code = body.code.as_deref().unwrap_or("card_declined");
            let outcome = Outcome {
                status: PaymentStatus::after_decline(Some(code)),
                payment_intent_id: body.payment_intent.as_ref().map(|pi| pi.id()),
                failure_code: Some(code),
                decline_code: body.decline_code.as_deref(),
                failure_message: body.message.as_deref(),
            };
            (outcome, Some(StatusCode::PAYMENT_REQUIRED))
        }
        // Not an answer about this payment (unreachable, busy, or our Stripe
        // key refused, say mid-rotation): a call before may have charged.
        Err(error) if error.is_outage() || matches!(error.status(), Some(401 | 403 | 409)) => {
            // Unknown outcome: leave the payment processing and let a retry
            // with the same key ask Stripe again with the same Stripe key.
            let mut conn = state.db.get().await?;
            models::release(&mut conn, api_key, idem).await?;
            let error = result
                .err()
                .unwrap_or(StripeError::Timeout(Default::default()));
            if error.status() == Some(409) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_error",
                    "idempotency_key_in_use",
                    "The payment provider is still processing this request. Retry shortly.",
                )
                .with_retry_after(1));
            }
            return Err(provider_unavailable(error));
        }
        Err(error) => {
            tracing::warn!(%error, payment.id = %payment.id, "the payment provider rejected a debit");
            let (code, message) = match error {
                StripeError::Api { body, .. } => (body.code.as_deref(), body.message.as_deref()),
                _ => (None, None),
            };
            let outcome = Outcome {
                status: PaymentStatus::Failed,
                payment_intent_id: None,
                failure_code: Some(code.unwrap_or("payment_rejected")),
                decline_code: None,
                failure_message: message,
            };
            (outcome, Some(StatusCode::UNPROCESSABLE_ENTITY))
        }
    };
    let mut conn = state.db.get().await?;
    let (_, status, body) = models::finish(&mut conn, api_key, idem, &payment.id, &outcome, |p| {
        respond_to_debit(p, error)
    })
    .await?;
    Ok(json_response(status, &body, false))
}

/// The answer to a debit, stored for replays.
fn respond_to_debit(payment: &Payment, error: Option<StatusCode>) -> (u16, serde_json::Value) {
    let object = || serde_json::to_value(PaymentObject::from_payment(payment)).unwrap_or_default();
    let status = PaymentStatus::from_str(&payment.status);
    match (error, status) {
        (None, Some(PaymentStatus::Succeeded)) => (201, object()),
        (None, Some(PaymentStatus::Processing)) => (202, object()),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), _) => {
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

impl PaymentStatus {
    fn from_str(status: &str) -> Option<PaymentStatus> {
        Some(match status {
            "processing" => PaymentStatus::Processing,
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "requires_action" => PaymentStatus::RequiresAction,
            _ => return None,
        })
    }
}

fn payment_missing(id: &str) -> ApiError {
    ApiError::not_found("payment", id, Some("id"))
}

/// `GET /api/v1/payments/{id}`.
#[utoipa::path(
    tag = "payments",
    params(("id" = String, Path, description = "The payment id, `pay_…`.")),
    responses(
        (status = 200, description = "The payment.", body = PaymentObject),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such payment.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
#[get("/payments/{id}")]
pub async fn get_payment(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<PaymentObject>, ApiError> {
    let mut conn = state.db.get().await?;
    let payment = Payment::find(&mut conn, &id)
        .await?
        .ok_or_else(|| payment_missing(&id))?;
    Ok(web::Json(PaymentObject::from_payment(&payment)))
}

/// `PATCH /api/v1/payments/{id}`: optimistic concurrency on `version`.
#[utoipa::path(
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
#[patch("/payments/{id}")]
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
    let mut conn = state.db.get().await?;
    let payment = Payment::find(&mut conn, &id)
        .await?
        .ok_or_else(|| payment_missing(&id))?;
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
    let updated = Payment::update_if_version(
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
            let current = Payment::find(&mut conn, &payment.id)
                .await?
                .map_or(payment.version, |p| p.version);
            Err(conflict(current))
        }
    }
}

/// Stripe's metadata rules: at most 50 keys of 40 characters without square
/// brackets, values of at most 500; a null or empty value removes the key.
fn apply_metadata(
    metadata: &mut BTreeMap<String, String>,
    changes: BTreeMap<String, Option<String>>,
) -> Result<(), ApiError> {
    let invalid = |message: String| ApiError::invalid("metadata", "parameter_invalid", message);
    for (key, value) in changes {
        let key_ok = !key.is_empty()
            && key.chars().count() <= MAX_METADATA_KEY_CHARS
            && !key.contains(['[', ']'])
            && !has_nul(&key);
        if !key_ok {
            return Err(invalid(format!(
                "Metadata keys must be 1 to {MAX_METADATA_KEY_CHARS} characters, without square brackets or NUL."
            )));
        }
        match value {
            None => {
                metadata.remove(&key);
            }
            Some(value) if value.is_empty() => {
                metadata.remove(&key);
            }
            Some(value) => {
                if value.chars().count() > MAX_METADATA_VALUE_CHARS || has_nul(&value) {
                    return Err(invalid(format!(
                        "Metadata values must be at most {MAX_METADATA_VALUE_CHARS} characters, without NUL."
                    )));
                }
                metadata.insert(key, value);
            }
        }
    }
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(invalid(format!(
            "A payment can have at most {MAX_METADATA_KEYS} metadata keys."
        )));
    }
    Ok(())
}

/// `GET /api/v1/accounts/{account_id}/payments`: newest first, browser
/// checkouts and API debits alike.
#[utoipa::path(
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
#[get("/accounts/{account_id}/payments")]
pub async fn list_payments(
    state: web::Data<AppState>,
    account_id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<PaymentList>, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "parameter_invalid",
            "limit must be between 1 and 100.",
        ));
    }
    let mut conn = state.db.get().await?;
    let account = Account::find(&mut conn, &account_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account", &account_id, Some("account_id")))?;
    let cursor = match query.starting_after.as_deref() {
        None => None,
        Some(after) => {
            let payment = Payment::find(&mut conn, after)
                .await?
                .filter(|p| p.account_id == account.id)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "starting_after",
                        "resource_missing",
                        "starting_after must be the id of one of this account's payments.",
                    )
                })?;
            Some(payment)
        }
    };
    let (payments, has_more) =
        Payment::history(&mut conn, &account.id, cursor.as_ref(), limit).await?;
    Ok(web::Json(PaymentList {
        object: "list".into(),
        url: format!("/api/v1/accounts/{}/payments", account.id),
        data: payments.iter().map(PaymentObject::from_payment).collect(),
        has_more,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_follow_the_currency_exponent() {
        let usd = |m| Money::new(m, Currency::Usd).unwrap();
        assert_eq!(decimal(usd(4299)), "42.99");
        assert_eq!(decimal(usd(5)), "0.05");
        assert_eq!(decimal(usd(100)), "1.00");
        assert_eq!(decimal(Money::new(4300, Currency::Jpy).unwrap()), "4300");
    }

    #[test]
    fn amounts_are_parsed_exactly_against_the_currency() {
        assert_eq!(parse_amount("42.99", Currency::Usd).unwrap().minor(), 4299);
        assert_eq!(parse_amount("4300", Currency::Jpy).unwrap().minor(), 4300);
        for (bad, currency, code) in [
            ("42.999", Currency::Usd, "amount_too_precise"),
            ("1.5", Currency::Jpy, "amount_too_precise"),
            ("0", Currency::Usd, "amount_too_small"),
            ("-1", Currency::Usd, "amount_invalid"),
            ("1e3", Currency::Usd, "amount_invalid"),
            ("1000000", Currency::Usd, "amount_too_large"),
        ] {
            let error = parse_amount(bad, currency).unwrap_err();
            assert_eq!(
                (error.code.as_str(), error.status.as_u16()),
                (code, 400),
                "{bad}"
            );
        }
    }

    #[test]
    fn metadata_merges_and_removes_keys() {
        let mut metadata = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        let changes = BTreeMap::from([
            ("a".to_owned(), None),
            ("b".to_owned(), Some("2".to_owned())),
        ]);
        apply_metadata(&mut metadata, changes).unwrap();
        assert_eq!(metadata, BTreeMap::from([("b".to_owned(), "2".to_owned())]));
        let bad = BTreeMap::from([("x[y]".to_owned(), Some("1".to_owned()))]);
        assert!(apply_metadata(&mut metadata, bad).is_err());
    }
}
