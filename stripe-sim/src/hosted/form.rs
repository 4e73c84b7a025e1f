//! The payment form: its fields, and checking them as Checkout does, with
//! Checkout's messages. Address, shipping and code problems are 400s, card
//! problems 402s.

use actix_web::http::StatusCode;
use serde::Deserialize;

use crate::banks::{self, BankDebit, TEST_ROUTING_NUMBER};
use crate::cards;
use crate::countries;
use crate::model::{Address, Choices, Session, ShippingDetails};
use crate::money;
use crate::payments::{Entry, Method};
use crate::promotions::{self, Order};
use crate::state::State;

/// The fields of the payment form, all optional so that a missing one is an
/// inline message rather than a bare 400. See the README for what each holds.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct PayForm {
    pub email: String,
    pub card_number: String,
    pub exp_month: String,
    pub exp_year: String,
    pub cvc: String,
    pub name: String,
    pub shipping_name: String,
    pub shipping_line1: String,
    pub shipping_line2: String,
    pub shipping_city: String,
    pub shipping_state: String,
    pub shipping_postal_code: String,
    pub shipping_country: String,
    pub billing_country: String,
    pub billing_state: String,
    pub billing_postal_code: String,
    pub shipping_rate: String,
    pub promotion_code: String,
    /// `card` (the default), `us_bank_account` or `sepa_debit`.
    pub payment_method: String,
    pub routing_number: String,
    pub account_number: String,
    pub iban: String,
    /// The total the page showed, in minor units: paying a different one
    /// shows the page again with the new total first.
    pub shown_total: String,
    /// `update` recomputes the totals (and applies the code) without paying.
    pub step: String,
}

/// Something to fix, shown above the form: its status, message, and the
/// field it is about.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    pub field: &'static str,
}

fn problem(status: StatusCode, field: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        status,
        message: message.into(),
        field,
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> Problem {
    problem(StatusCode::BAD_REQUEST, field, message)
}

fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Where the session ships to, if it collects a shipping address: the
/// country (one of the allowed), region and postal code.
fn destination(session: &Session, form: &PayForm) -> Result<Option<Address>, Problem> {
    let Some(allowed) = &session.shipping_countries else {
        return Ok(None);
    };
    let country = form.shipping_country.trim();
    if !allowed.iter().any(|c| c == country) {
        return Err(bad("shipping_country", "We cannot ship to this country."));
    }
    located(
        country,
        &form.shipping_state,
        &form.shipping_postal_code,
        ("shipping_state", "shipping_postal_code"),
    )
    .map(Some)
}

/// The whole shipping address, if the session collects one.
fn shipping(session: &Session, form: &PayForm) -> Result<Option<ShippingDetails>, Problem> {
    if session.shipping_countries.is_none() {
        return Ok(None);
    }
    let name =
        text(&form.shipping_name).ok_or_else(|| bad("shipping_name", "Your name is required."))?;
    let line1 = text(&form.shipping_line1)
        .ok_or_else(|| bad("shipping_line1", "Your address is incomplete."))?;
    let city =
        text(&form.shipping_city).ok_or_else(|| bad("shipping_city", "Your city is required."))?;
    let destination = destination(session, form)?.unwrap_or_default();
    let address = Address {
        line1: Some(line1),
        line2: text(&form.shipping_line2),
        city: Some(city),
        ..destination
    };
    Ok(Some(ShippingDetails { name, address }))
}

/// The country, region and postal code of an address, checked for
/// `country`; problems name `fields`, the state's and the postal code's.
fn located(
    country: &str,
    state: &str,
    postal_code: &str,
    (state_field, postal_field): (&'static str, &'static str),
) -> Result<Address, Problem> {
    let state = match countries::regions(country) {
        Some(_) => Some(
            countries::region_code(country, state)
                .ok_or_else(|| bad(state_field, "Your state or province is incomplete."))?
                .to_owned(),
        ),
        None => text(state),
    };
    let postal_code = text(postal_code);
    match &postal_code {
        None if countries::requires_postal_code(country) => {
            return Err(bad(postal_field, "Your postal code is incomplete."));
        }
        Some(code) if !countries::postal_code_ok(country, code) => {
            return Err(bad(postal_field, "Your postal code is invalid."));
        }
        _ => {}
    }
    Ok(Address {
        state,
        postal_code: postal_code.map(|c| c.to_uppercase()),
        country: country.to_owned(),
        ..Address::default()
    })
}

/// The billing address tax is computed from when no shipping address is collected.
fn billing(session: &Session, form: &PayForm) -> Result<Option<Address>, Problem> {
    if !session.automatic_tax || session.shipping_countries.is_some() {
        return Ok(None);
    }
    let country = form.billing_country.trim();
    if countries::name(country).is_none() {
        return Err(bad("billing_country", "Your country is required."));
    }
    located(
        country,
        &form.billing_state,
        &form.billing_postal_code,
        ("billing_state", "billing_postal_code"),
    )
    .map(Some)
}

/// The choices for a page that only shows totals (`step=update`): an
/// address not complete yet is left out rather than refused, and a shipping
/// destination counts for the tax even without the name and street.
pub fn preview(st: &State, session: &Session, form: &PayForm) -> Result<Choices, Problem> {
    assemble(st, session, form, false)
}

/// What the customer chose: the address(es), the shipping rate and the
/// discount (a code given at creation, or the code typed here). `strict`
/// refuses an incomplete address rather than leaving it out.
fn assemble(
    st: &State,
    session: &Session,
    form: &PayForm,
    strict: bool,
) -> Result<Choices, Problem> {
    let shipping_rate = match form.shipping_rate.trim() {
        "" => session.choices.shipping_rate.clone(),
        id if session.shipping_options.iter().any(|r| r.id == id) => Some(id.to_owned()),
        _ => return Err(bad("shipping_rate", "Choose a shipping method.")),
    };
    let (shipping, billing_address) = if strict {
        (shipping(session, form)?, billing(session, form)?)
    } else {
        let destination = destination(session, form).ok().flatten();
        let shipping = destination.map(|address| ShippingDetails {
            name: form.shipping_name.trim().to_owned(),
            address,
        });
        (shipping, billing(session, form).ok().flatten())
    };
    let mut choices = Choices {
        shipping_rate,
        shipping,
        billing_address,
        discount: session.choices.discount.clone(),
    };
    let code = form.promotion_code.trim();
    if session.allow_promotion_codes == Some(true) && !code.is_empty() {
        let order = Order {
            currency: &session.currency,
            subtotal: session.quote(&choices).subtotal,
            customer: session.customer.as_deref(),
        };
        let applied = promotions::typed_code(st, code, &order)
            .map_err(|refusal| bad("promotion_code", refusal.message()))?;
        choices.discount = Some(applied);
        let total = session.quote(&choices).total;
        if let Some(minimum) = money::minimum_charge(&session.currency).filter(|m| total < *m) {
            return Err(bad(
                "promotion_code",
                format!(
                    "This code cannot be used: the total would be below the minimum charge of {}.",
                    money::format(minimum, &session.currency)
                ),
            ));
        }
    }
    Ok(choices)
}

/// The email, checked first as Checkout does.
fn email(form: &PayForm) -> Result<String, Problem> {
    let email = form.email.trim();
    if email.is_empty() {
        return Err(bad("email", "Your email address is incomplete."));
    }
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace);
    if !valid {
        return Err(bad("email", "Your email address is invalid."));
    }
    Ok(email.to_owned())
}

/// The chosen payment method's fields.
fn method(session: &Session, form: &PayForm, now: i64) -> Result<Method, Problem> {
    let kind = match form.payment_method.trim() {
        "" => "card",
        kind => kind,
    };
    if !session.payment_method_types.iter().any(|t| t == kind) {
        return Err(bad("payment_method", "Choose a payment method."));
    }
    match BankDebit::from_type(kind) {
        None => card(form, now),
        Some(BankDebit::UsBankAccount) => {
            if form.routing_number.trim() != TEST_ROUTING_NUMBER {
                return Err(bad(
                    "routing_number",
                    format!(
                        "Your routing number is incorrect. In test mode, use {TEST_ROUTING_NUMBER}."
                    ),
                ));
            }
            banks::lookup(BankDebit::UsBankAccount, &form.account_number)
                .map(Method::Bank)
                .ok_or_else(|| {
                    bad(
                        "account_number",
                        "Your account number is incorrect. In test mode, use 000123456789 \
                         (succeeds) or 000111111116 (fails).",
                    )
                })
        }
        Some(BankDebit::SepaDebit) => banks::lookup(BankDebit::SepaDebit, &form.iban)
            .map(Method::Bank)
            .ok_or_else(|| {
                bad(
                    "iban",
                    "Your IBAN is incorrect. In test mode, use DE89370400440532013000 \
                     (succeeds) or DE62370400440532013001 (fails).",
                )
            }),
    }
}

fn card(form: &PayForm, now: i64) -> Result<Method, Problem> {
    let card_error = |field, message: &str| problem(StatusCode::PAYMENT_REQUIRED, field, message);
    if form.card_number.trim().is_empty() {
        return Err(card_error("card_number", "Your card number is incomplete."));
    }
    let test_card = cards::lookup(&form.card_number)
        .ok_or_else(|| card_error("card_number", "Your card number is incorrect."))?;
    let exp_month = form
        .exp_month
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| card_error("exp_month", "Your card's expiration month is invalid."))?;
    let (this_year, this_month) = year_month(now);
    let exp_year = form
        .exp_year
        .trim()
        .parse::<u32>()
        .ok()
        .map(|y| if y < 100 { y + 2000 } else { y })
        .filter(|y| (2000..=this_year + 50).contains(y))
        .ok_or_else(|| card_error("exp_year", "Your card's expiration year is invalid."))?;
    if exp_year < this_year {
        return Err(card_error(
            "exp_year",
            "Your card's expiration year is in the past.",
        ));
    }
    if exp_year == this_year && exp_month < this_month {
        return Err(card_error(
            "exp_month",
            "Your card's expiration date is in the past.",
        ));
    }
    let cvc = form.cvc.trim();
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(card_error(
            "cvc",
            "Your card's security code is incomplete.",
        ));
    }
    Ok(Method::Card {
        test_card,
        exp_month,
        exp_year,
    })
}

/// The submitted form as a payment: the email, then the address, shipping
/// and code, then the payment method's fields.
pub fn entry(st: &State, session: &Session, form: &PayForm) -> Result<Entry, Problem> {
    let email = email(form)?;
    let choices = assemble(st, session, form, true)?;
    let method = method(session, form, st.now())?;
    let name = text(&form.name).or_else(|| choices.shipping.as_ref().map(|s| s.name.clone()));
    Ok(Entry {
        email,
        name,
        method,
        choices,
    })
}

/// The UTC (year, month) of a unix time, by Howard Hinnant's `civil_from_days`.
fn year_month(unix: i64) -> (u32, u32) {
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        u32::try_from(year).unwrap_or(0),
        u32::try_from(month).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_month_of_known_dates() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(1_709_251_199), (2024, 2)); // 2024-02-29T23:59:59Z
        assert_eq!(year_month(1_709_251_200), (2024, 3));
    }

    fn form(number: &str, month: &str, year: &str) -> PayForm {
        PayForm {
            card_number: number.into(),
            exp_month: month.into(),
            exp_year: year.into(),
            cvc: "123".into(),
            ..PayForm::default()
        }
    }

    #[test]
    fn checks_cards_like_checkout() {
        let march_2024 = 1_709_251_200;
        let Method::Card {
            exp_month,
            exp_year,
            ..
        } = card(&form("4242 4242 4242 4242", "3", "24"), march_2024).unwrap()
        else {
            panic!("a card");
        };
        assert_eq!((exp_month, exp_year), (3, 2024));
        let past = card(&form("4242424242424242", "2", "2024"), march_2024).unwrap_err();
        assert_eq!(past.message, "Your card's expiration date is in the past.");
        let wrong = card(&form("4242424242424241", "3", "30"), march_2024).unwrap_err();
        assert_eq!(
            (wrong.status, wrong.field, wrong.message.as_str()),
            (
                StatusCode::PAYMENT_REQUIRED,
                "card_number",
                "Your card number is incorrect."
            )
        );
    }

    const SHIPPING: (&str, &str) = ("shipping_state", "shipping_postal_code");

    #[test]
    fn addresses_are_checked_for_their_country() {
        let us = located("US", "california", "94103", SHIPPING).unwrap();
        assert_eq!(
            (us.state.as_deref(), us.postal_code.as_deref()),
            (Some("CA"), Some("94103"))
        );
        assert_eq!(
            located("US", "", "94103", SHIPPING).unwrap_err().field,
            "shipping_state"
        );
        assert_eq!(
            located("GB", "", "SW1A", SHIPPING).unwrap_err().message,
            "Your postal code is invalid."
        );
        let nl = located("NL", "Noord-Holland", "", SHIPPING).unwrap();
        assert_eq!(nl.postal_code, None);
    }
}
