//! Parsing the payments API's input into domain types, with the API's
//! typed errors: exact amounts against the currency, Stripe's limits on
//! descriptions and metadata, the Idempotency-Key header.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;

use super::dto::{CreatePayment, CreateRefund};
use super::error::ApiError;
use crate::ids::{AccountId, PaymentId};
use crate::ledger::domain::{Payment, RefundReason};
use crate::money::{Currency, Money, MoneyError};
use crate::payments_api::domain::{Confirm, DebitRequest, RefundRequest};

const MAX_DESCRIPTION_CHARS: usize = 1000;
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;

/// No such account (or no id that could be one).
pub fn account_missing(id: &str) -> ApiError {
    ApiError::not_found("account", id, Some("account_id"))
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

pub fn parse_description(description: Option<String>) -> Result<Option<String>, ApiError> {
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

/// An exact amount in the currency ("42.999" USD is refused), not negative.
fn exact_amount(amount: &str, currency: Currency) -> Result<Money, ApiError> {
    let invalid = |code: &str, message: String| ApiError::invalid("amount", code, message);
    Money::parse_decimal(amount, currency).map_err(|error| match error {
        error @ MoneyError::TooPrecise { .. } => invalid("amount_too_precise", format!("{error}.")),
        MoneyError::Negative => {
            invalid("amount_invalid", "The amount must be positive.".to_owned())
        }
        MoneyError::Overflow => invalid("amount_too_large", "The amount is too large.".to_owned()),
        _ => invalid(
            "amount_invalid",
            "The amount must be a decimal string such as \"42.99\".".to_owned(),
        ),
    })
}

/// A debit's amount: exact, and within Stripe's limits on a charge.
fn parse_amount(amount: &str, currency: Currency) -> Result<Money, ApiError> {
    let invalid = |code: &str, message: String| ApiError::invalid("amount", code, message);
    let money = exact_amount(amount, currency)?;
    let minimum = currency.minimum_charge();
    if money.minor() < minimum {
        return Err(invalid(
            "amount_too_small",
            format!(
                "The amount must be at least {} (the payment provider's minimum).",
                Money::new(minimum, currency)
                    .unwrap_or(Money::zero(currency))
                    .decimal()
            ),
        ));
    }
    if money.minor() > currency.maximum_charge() {
        return Err(invalid(
            "amount_too_large",
            format!(
                "The amount must be at most {}.",
                Money::new(currency.maximum_charge(), currency)
                    .unwrap_or(Money::zero(currency))
                    .decimal()
            ),
        ));
    }
    Ok(money)
}

/// A debit request as parsed: the account id is checked last, as a 404.
pub fn parse_create(body: CreatePayment) -> Result<DebitRequest, ApiError> {
    let currency: Currency = body.currency.parse().map_err(|_| {
        ApiError::invalid(
            "currency",
            "currency_unsupported",
            "The currency must be one of usd, eur, gbp or jpy.",
        )
    })?;
    let amount = parse_amount(&body.amount, currency)?;
    let description = parse_description(body.description)?;
    let confirm = match body.confirm.as_deref() {
        None => Confirm::default(),
        Some(confirm) => Confirm::parse(confirm).ok_or_else(|| {
            ApiError::invalid(
                "confirm",
                "parameter_invalid",
                "confirm must be \"sync\" (the default) or \"async\".",
            )
        })?,
    };
    let account_id =
        AccountId::parse(&body.account_id).ok_or_else(|| account_missing(&body.account_id))?;
    Ok(DebitRequest {
        account_id,
        amount,
        description,
        confirm,
    })
}

/// A refund request for `payment`: the amount in the payment's currency
/// (whether it is more than is left is the use case's to tell).
pub fn parse_refund(body: CreateRefund, payment: &Payment) -> Result<RefundRequest, ApiError> {
    let amount = body
        .amount
        .map(|amount| exact_amount(&amount, payment.currency))
        .transpose()?;
    if amount.is_some_and(|amount| amount.minor() == 0) {
        return Err(ApiError::invalid(
            "amount",
            "amount_invalid",
            "The amount must be positive.",
        ));
    }
    let reason = body
        .reason
        .map(|reason| {
            RefundReason::parse(&reason).ok_or_else(|| {
                ApiError::invalid(
                    "reason",
                    "parameter_invalid",
                    "The reason must be duplicate, fraudulent or requested_by_customer.",
                )
            })
        })
        .transpose()?;
    let payment_id =
        PaymentId::parse(&payment.id).ok_or_else(|| super::payment_missing(&payment.id))?;
    Ok(RefundRequest {
        payment_id,
        currency: payment.currency,
        amount,
        reason,
    })
}

/// A list's `limit`: 1 to 100, 20 by default.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "parameter_invalid",
            "limit must be between 1 and 100.",
        ));
    }
    Ok(limit)
}

/// The Idempotency-Key header: required, 1 to 255 visible ASCII characters.
pub fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
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

/// Stripe's metadata rules: at most 50 keys of 40 characters without square
/// brackets, values of at most 500; a null or empty value removes the key.
pub fn apply_metadata(
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

#[cfg(test)]
mod tests {
    use super::*;

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
