//! Parameter checks several endpoints share: URLs, emails, currencies,
//! Stripe's minimum charge, payment method types and customer references.

use crate::error::ApiError;
use crate::form::Field;
use crate::money::{self, MAX_AMOUNT, minimum_charge};
use crate::state::State;

fn valid_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

pub fn url_param(field: &Field<'_>) -> Result<Option<String>, ApiError> {
    match field.opt_str()? {
        Some(url) if !valid_url(url) => {
            Err(ApiError::invalid_param(field.path(), "Not a valid URL").with_code("url_invalid"))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

pub fn email_param(field: &Field<'_>) -> Result<Option<String>, ApiError> {
    match field.opt_bounded(512)? {
        Some(email) => {
            let valid = email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
            });
            if valid {
                Ok(Some(email))
            } else {
                Err(ApiError::invalid_param(
                    field.path(),
                    format!("Invalid email address: {email}"),
                )
                .with_code("email_invalid"))
            }
        }
        None => Ok(None),
    }
}

/// A three-letter ISO code; Stripe accepts any case and answers in lowercase.
pub fn currency_param(field: &Field<'_>) -> Result<String, ApiError> {
    let currency = field.req_str()?.to_ascii_lowercase();
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(currency)
    } else {
        Err(ApiError::invalid_param(
            field.path(),
            format!("Invalid currency: {currency}."),
        ))
    }
}

/// What an amount is the amount of, which words Stripe's messages.
#[derive(Debug, Clone, Copy)]
pub enum AmountOf {
    PaymentIntent,
    CheckoutSession,
}

/// Refuses an amount outside what Stripe can charge: above [`MAX_AMOUNT`]
/// (`amount_too_large`) or below the currency's minimum (`amount_too_small`).
pub fn check_amount(amount: i64, currency: &str, of: AmountOf) -> Result<(), ApiError> {
    let (param, at_most, at_least) = match of {
        AmountOf::PaymentIntent => (
            "amount",
            "Amount must be no more than",
            "Amount must be at least",
        ),
        AmountOf::CheckoutSession => (
            "line_items",
            "The Checkout Session's total amount due must be no more than",
            "The Checkout Session's total amount due must add up to at least",
        ),
    };
    if amount > MAX_AMOUNT {
        let most = money::format(MAX_AMOUNT, currency);
        return Err(ApiError::invalid_param(param, format!("{at_most} {most}"))
            .with_code("amount_too_large"));
    }
    match minimum_charge(currency) {
        Some(minimum) if amount < minimum => {
            let least = money::format(minimum, currency);
            Err(
                ApiError::invalid_param(param, format!("{at_least} {least} {currency}"))
                    .with_code("amount_too_small"),
            )
        }
        _ => Ok(()),
    }
}

pub fn card_only(field: &Field<'_>) -> Result<Vec<String>, ApiError> {
    let types = field.string_list()?;
    for (i, kind) in types.iter().enumerate() {
        if kind != "card" {
            return Err(ApiError::invalid_param(
                &format!("{}[{i}]", field.path()),
                format!(
                    "The payment method type `{kind}` is not supported by this simulator; use `card`."
                ),
            ));
        }
    }
    Ok(types)
}

pub fn existing_customer(st: &State, field: &Field<'_>) -> Result<Option<String>, ApiError> {
    match field.opt_str()? {
        Some(id) if st.customers.get(id).is_none() => {
            Err(ApiError::no_such("customer", id, field.path(), false))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// A percentage with up to two decimals, as basis points: `12.5` is 1250.
/// It must be above 0 and at most 100.
pub fn percent_param(field: &Field<'_>) -> Result<Option<i64>, ApiError> {
    let Some(text) = field.opt_str()? else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::invalid_param(
            field.path(),
            format!(
                "Invalid {}: must be a number greater than 0 and at most 100",
                field.path()
            ),
        )
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 2
        || !digits(whole)
        || !digits(fraction)
    {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let basis_points = whole * 100 + fraction;
    if basis_points == 0 || basis_points > 10_000 {
        return Err(invalid());
    }
    Ok(Some(basis_points))
}

/// An amount of money in minor units: not negative, at most Stripe's maximum.
pub fn amount_param(field: &Field<'_>) -> Result<Option<i64>, ApiError> {
    match field.opt_int_min(0)? {
        Some(amount) if amount > MAX_AMOUNT => Err(ApiError::invalid_param(
            field.path(),
            format!("This value must be less than or equal to {MAX_AMOUNT}."),
        )
        .with_code("amount_too_large")),
        other => Ok(other),
    }
}

/// A timestamp that must be in the future.
pub fn future_timestamp(field: &Field<'_>, now: i64) -> Result<Option<i64>, ApiError> {
    match field.opt_int()? {
        Some(t) if t <= now => Err(ApiError::invalid_param(
            field.path(),
            format!("Invalid {}: must be in the future", field.path()),
        )),
        other => Ok(other),
    }
}

/// `key` (itself maybe bracketed) under `prefix`: `fixed_amount[amount]`
/// under `shipping_options[N][shipping_rate_data]` is
/// `shipping_options[N][shipping_rate_data][fixed_amount][amount]`.
pub fn nested(prefix: &str, key: &str) -> String {
    match key.split_once('[') {
        Some((head, rest)) => format!("{prefix}[{head}][{rest}"),
        None => format!("{prefix}[{key}]"),
    }
}
