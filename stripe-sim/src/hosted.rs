//! The hosted payment page at each session's `url`: plain HTML forms, no JavaScript.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::cards;
use crate::error::ApiError;
use crate::model::{Session, SessionStatus};
use crate::money;
use crate::payments::{self, CardEntry, PayOutcome};
use crate::state::{Shared, State};

struct ItemView {
    name: String,
    description: Option<String>,
    quantity: i64,
    unit: String,
    amount: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pay.html")]
struct PayPage {
    action: String,
    cancel_url: Option<String>,
    items: Vec<ItemView>,
    total: String,
    email: String,
    card_number: String,
    exp_month: String,
    exp_year: String,
    name: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "authenticate.html")]
struct AuthenticatePage {
    action: String,
    total: String,
    last4: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "notice.html")]
struct NoticePage {
    heading: &'static str,
    message: String,
    link: Option<String>,
    link_text: &'static str,
}

/// The fields of the payment form, all optional so that a missing one is an
/// inline message rather than a bare 400.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PayForm {
    email: String,
    card_number: String,
    exp_month: String,
    exp_year: String,
    cvc: String,
    name: String,
}

#[derive(Debug, Deserialize)]
pub struct AuthenticateForm {
    action: String,
}

fn respond(page: impl Responder, status: StatusCode, req: &HttpRequest) -> HttpResponse {
    page.customize()
        .with_status(status)
        .respond_to(req)
        .map_into_boxed_body()
}

impl PayPage {
    fn new(session: &Session, form: &PayForm, error: Option<String>) -> Self {
        let items = session
            .line_items
            .iter()
            .map(|item| ItemView {
                name: item.name.clone(),
                description: item.description.clone(),
                quantity: item.quantity,
                unit: money::format(item.unit_amount, &item.currency),
                amount: money::format(item.amount, &item.currency),
            })
            .collect();
        let email = if form.email.is_empty() {
            session.customer_email.clone().unwrap_or_default()
        } else {
            form.email.clone()
        };
        Self {
            action: session.url.clone(),
            cancel_url: session.cancel_url.clone(),
            items,
            total: money::format(session.amount_total, &session.currency),
            email,
            card_number: form.card_number.clone(),
            exp_month: form.exp_month.clone(),
            exp_year: form.exp_year.clone(),
            name: form.name.clone(),
            error,
        }
    }
}

/// The page for a session that cannot be paid: unknown (404), expired (410) or paid (409).
fn closed_page(session: Option<&Session>, req: &HttpRequest) -> Option<HttpResponse> {
    let (status, heading, message) = match session.map(|s| s.status) {
        None => (
            StatusCode::NOT_FOUND,
            "Checkout session not found",
            "This payment link is not valid.".to_owned(),
        ),
        Some(SessionStatus::Expired) => (
            StatusCode::GONE,
            "This checkout session has expired",
            "The time to pay has run out. Return to the shop to start again.".to_owned(),
        ),
        Some(SessionStatus::Complete) => (
            StatusCode::CONFLICT,
            "This checkout session is already paid",
            "The payment went through; there is nothing more to pay.".to_owned(),
        ),
        Some(SessionStatus::Open) => return None,
    };
    let page = NoticePage {
        heading,
        message,
        link: session.and_then(|s| s.cancel_url.clone()),
        link_text: "Back to the shop",
    };
    Some(respond(page, status, req))
}

fn error_page(err: &ApiError, req: &HttpRequest) -> HttpResponse {
    tracing::error!(error = %err.message, "payment page failed");
    let page = NoticePage {
        heading: "Something went wrong",
        message: "The simulator could not process this payment.".to_owned(),
        link: None,
        link_text: "",
    };
    respond(page, StatusCode::INTERNAL_SERVER_ERROR, req)
}

fn session(shared: &Shared, id: &str) -> Option<Session> {
    shared.lock().sessions.get(id).cloned()
}

pub async fn show(
    req: HttpRequest,
    id: web::Path<String>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let session = session(&shared, &id);
    if let Some(closed) = closed_page(session.as_ref(), &req) {
        return closed;
    }
    let Some(session) = session else {
        return error_page(&ApiError::internal(), &req);
    };
    respond(
        PayPage::new(&session, &PayForm::default(), None),
        StatusCode::OK,
        &req,
    )
}

pub async fn pay(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<PayForm>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let shared = shared.into_inner();
    let form = form.into_inner();
    let Some(session) = session(&shared, &id).filter(|s| s.status == SessionStatus::Open) else {
        return closed_page(session(&shared, &id).as_ref(), &req)
            .unwrap_or_else(|| error_page(&ApiError::internal(), &req));
    };
    let now = shared.lock().now();
    let entry = match validate(&form, now) {
        Ok(entry) => entry,
        Err((status, message)) => {
            return respond(PayPage::new(&session, &form, Some(message)), status, &req);
        }
    };
    let outcome =
        shared.with_state(|st| still_open(st, &id).then(|| payments::pay_session(st, &id, entry)));
    finish(&shared, &req, &id, &form, outcome)
}

pub async fn authenticate(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<AuthenticateForm>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let shared = shared.into_inner();
    let Some(session) = session(&shared, &id).filter(|s| s.status == SessionStatus::Open) else {
        return closed_page(session(&shared, &id).as_ref(), &req)
            .unwrap_or_else(|| error_page(&ApiError::internal(), &req));
    };
    let Some(pm_id) = session.pending_authentication.clone() else {
        // Nothing to authenticate (e.g. a resubmitted form): back to the payment page.
        return HttpResponse::SeeOther()
            .insert_header((LOCATION, session.url))
            .finish();
    };
    // If authentication fails, the form comes back with what the customer entered.
    let prefill = shared
        .lock()
        .payment_methods
        .get(&pm_id)
        .map(|pm| PayForm {
            email: pm.email.clone().unwrap_or_default(),
            name: pm.name.clone().unwrap_or_default(),
            ..PayForm::default()
        })
        .unwrap_or_default();
    let outcome = match form.action.as_str() {
        "complete" => shared.with_state(|st| {
            still_open(st, &id).then(|| payments::complete_authentication(st, &id))
        }),
        "fail" => shared
            .with_state(|st| still_open(st, &id).then(|| payments::fail_authentication(st, &id))),
        _ => {
            let page = NoticePage {
                heading: "Unknown action",
                message: "Choose “Complete authentication” or “Fail authentication”.".to_owned(),
                link: Some(session.url),
                link_text: "Back to the payment page",
            };
            return respond(page, StatusCode::BAD_REQUEST, &req);
        }
    };
    finish(&shared, &req, &id, &prefill, outcome)
}

fn still_open(st: &State, id: &str) -> bool {
    st.sessions
        .get(id)
        .is_some_and(|s| s.status == SessionStatus::Open)
}

/// Turns a payment outcome into the redirect, the 3D Secure page or the re-rendered form.
fn finish(
    shared: &Arc<Shared>,
    req: &HttpRequest,
    id: &str,
    form: &PayForm,
    outcome: Option<Result<PayOutcome, ApiError>>,
) -> HttpResponse {
    let session = session(shared, id);
    let (Some(outcome), Some(session)) = (outcome, session.as_ref()) else {
        return closed_page(session.as_ref(), req)
            .unwrap_or_else(|| error_page(&ApiError::internal(), req));
    };
    match outcome {
        Ok(PayOutcome::Paid(redirect)) => HttpResponse::SeeOther()
            .insert_header((LOCATION, redirect))
            .finish(),
        Ok(PayOutcome::NeedsAuthentication) => {
            let last4 = session
                .pending_authentication
                .as_deref()
                .and_then(|pm| {
                    shared
                        .lock()
                        .payment_methods
                        .get(pm)
                        .map(|pm| pm.card.test_card.last4())
                })
                .unwrap_or_default()
                .to_owned();
            let page = AuthenticatePage {
                action: format!("{}/authenticate", session.url),
                total: money::format(session.amount_total, &session.currency),
                last4,
            };
            respond(page, StatusCode::OK, req)
        }
        Ok(PayOutcome::Declined(message)) => respond(
            PayPage::new(session, form, Some(message)),
            StatusCode::PAYMENT_REQUIRED,
            req,
        ),
        Err(err) => error_page(&err, req),
    }
}

/// Checks the form as Checkout's own fields do, with Stripe's messages: an
/// email problem is a 400, a card problem a 402.
fn validate(form: &PayForm, now: i64) -> Result<CardEntry, (StatusCode, String)> {
    let card_error = |message: &str| (StatusCode::PAYMENT_REQUIRED, message.to_owned());
    let email = form.email.trim();
    if email.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "Your email address is incomplete.".to_owned(),
        ));
    }
    let email_ok = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace);
    if !email_ok {
        return Err((
            StatusCode::BAD_REQUEST,
            "Your email address is invalid.".to_owned(),
        ));
    }
    if form.card_number.trim().is_empty() {
        return Err(card_error("Your card number is incomplete."));
    }
    let test_card = cards::lookup(&form.card_number)
        .ok_or_else(|| card_error("Your card number is incorrect."))?;
    let exp_month = form
        .exp_month
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| card_error("Your card's expiration month is invalid."))?;
    let (this_year, this_month) = year_month(now);
    let exp_year = form
        .exp_year
        .trim()
        .parse::<u32>()
        .ok()
        .map(|y| if y < 100 { y + 2000 } else { y })
        .filter(|y| (2000..=this_year + 50).contains(y))
        .ok_or_else(|| card_error("Your card's expiration year is invalid."))?;
    if exp_year < this_year {
        return Err(card_error("Your card's expiration year is in the past."));
    }
    if exp_year == this_year && exp_month < this_month {
        return Err(card_error("Your card's expiration date is in the past."));
    }
    let cvc = form.cvc.trim();
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(card_error("Your card's security code is incomplete."));
    }
    let name = form.name.trim();
    Ok(CardEntry {
        test_card,
        exp_month,
        exp_year,
        email: email.to_owned(),
        name: (!name.is_empty()).then(|| name.to_owned()),
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
            email: "a@example.com".into(),
            card_number: number.into(),
            exp_month: month.into(),
            exp_year: year.into(),
            cvc: "123".into(),
            name: String::new(),
        }
    }

    #[test]
    fn validates_like_checkout() {
        let march_2024 = 1_709_251_200;
        let ok = validate(&form("4242 4242 4242 4242", "3", "24"), march_2024).unwrap();
        assert_eq!((ok.exp_month, ok.exp_year), (3, 2024));
        let past = validate(&form("4242424242424242", "2", "2024"), march_2024).unwrap_err();
        assert_eq!(past.1, "Your card's expiration date is in the past.");
        let wrong = validate(&form("4242424242424241", "3", "30"), march_2024).unwrap_err();
        assert_eq!(
            wrong,
            (
                StatusCode::PAYMENT_REQUIRED,
                "Your card number is incorrect.".into()
            )
        );
    }
}
