//! Parameter checks several endpoints share: URLs, emails, currencies,
//! Stripe's minimum charge, payment method types and customer references.

use crate::error::ApiError;
use crate::form::Field;
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

/// Refuses an amount below Stripe's minimum charge for its currency, as
/// "$0.50 usd" (the currencies Stripe lists; others are not checked here).
pub fn check_minimum_charge(amount: i64, currency: &str, message: &str) -> Result<(), ApiError> {
    let (minimum, shown) = match currency {
        "usd" => (50, "$0.50"),
        "eur" => (50, "€0.50"),
        "gbp" => (30, "£0.30"),
        "jpy" => (50, "¥50"),
        _ => return Ok(()),
    };
    if amount < minimum {
        return Err(ApiError::invalid_param(
            "amount",
            format!("{message} at least {shown} {currency}"),
        )
        .with_code("amount_too_small"));
    }
    Ok(())
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
