//! The hosted payment page at each session's `url`: plain HTML forms, no
//! JavaScript. The form (`form`) and what the page shows (`page`) are their own modules.

mod form;
mod page;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::ApiError;
use crate::model::{Choices, Session, SessionStatus};
use crate::money;
use crate::payments::{self, PayOutcome};
use crate::state::{Shared, State};
use form::{PayForm, Problem};
use page::PayPage;

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

/// The page again with `problem`, showing the totals of what can be read
/// from the form (what cannot, such as a refused code, is left out).
fn problem_page(st: &State, session: &Session, form: &PayForm, problem: Problem) -> PayPage {
    let choices = form::preview(st, session, form)
        .or_else(|_| {
            let without_code = PayForm {
                promotion_code: String::new(),
                ..form.clone()
            };
            form::preview(st, session, &without_code)
        })
        .unwrap_or_else(|_| session.choices.clone());
    PayPage::new(session, form, &choices).with_problem(problem)
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
    let page = PayPage::new(&session, &PayForm::default(), &session.choices);
    respond(page, StatusCode::OK, &req)
}

/// The page to show again (and its status) for a submitted form, or the
/// payment to make: `step=update` only shows the totals, a problem shows the
/// page with it, and a total the customer has not seen is shown before it is charged.
fn review(
    st: &State,
    session: &Session,
    form: &PayForm,
) -> Result<payments::Entry, (Box<PayPage>, StatusCode)> {
    let with_problem = |problem: Problem| {
        let status = problem.status;
        (Box::new(problem_page(st, session, form, problem)), status)
    };
    if form.step == "update" {
        let choices = form::preview(st, session, form).map_err(with_problem)?;
        return Err((
            Box::new(PayPage::new(session, form, &choices)),
            StatusCode::OK,
        ));
    }
    let entry = form::entry(st, session, form).map_err(with_problem)?;
    match form.shown_total.trim().parse::<i64>() {
        Ok(shown) if shown != session.quote(&entry.choices).total => {
            let page = PayPage::new(session, form, &entry.choices);
            let notice = format!("Your total is now {}. Check it, then pay.", page.total);
            Err((Box::new(page.with_notice(notice)), StatusCode::OK))
        }
        _ => Ok(entry),
    }
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
    let reviewed = review(&shared.lock(), &session, &form);
    let entry = match reviewed {
        Ok(entry) => entry,
        Err((page, status)) => return respond(*page, status, &req),
    };
    let outcome =
        shared.with_state(|st| still_open(st, &id).then(|| payments::pay_session(st, &id, entry)));
    finish(&shared, &req, &id, &form, outcome)
}

/// The form as the customer filled it in, from what they chose, to show
/// again after a failed authentication.
fn refill(email: String, name: String, choices: &Choices) -> PayForm {
    let shipping = choices.shipping.as_ref();
    let address = shipping
        .map(|s| &s.address)
        .or(choices.billing_address.as_ref());
    let part = |get: fn(&crate::model::Address) -> Option<&String>| {
        address.and_then(get).cloned().unwrap_or_default()
    };
    let country = address.map(|a| a.country.clone()).unwrap_or_default();
    let (state, postal_code) = (part(|a| a.state.as_ref()), part(|a| a.postal_code.as_ref()));
    let mut form = PayForm {
        email,
        name,
        shipping_rate: choices.shipping_rate.clone().unwrap_or_default(),
        promotion_code: choices
            .discount
            .as_ref()
            .and_then(|d| d.code.clone())
            .unwrap_or_default(),
        ..PayForm::default()
    };
    if let Some(shipping) = shipping {
        form.shipping_name = shipping.name.clone();
        form.shipping_line1 = part(|a| a.line1.as_ref());
        form.shipping_line2 = part(|a| a.line2.as_ref());
        form.shipping_city = part(|a| a.city.as_ref());
        (
            form.shipping_country,
            form.shipping_state,
            form.shipping_postal_code,
        ) = (country, state, postal_code);
    } else {
        (
            form.billing_country,
            form.billing_state,
            form.billing_postal_code,
        ) = (country, state, postal_code);
    }
    form
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
    let Some((pm_id, choices)) = session.pending_authentication.clone() else {
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
        .map(|pm| {
            let email = pm.email.clone().unwrap_or_default();
            refill(email, pm.name.clone().unwrap_or_default(), &choices)
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
        Ok(PayOutcome::Complete(redirect)) => HttpResponse::SeeOther()
            .insert_header((LOCATION, redirect))
            .finish(),
        Ok(PayOutcome::NeedsAuthentication) => {
            let Some((pm_id, choices)) = &session.pending_authentication else {
                return error_page(&ApiError::internal(), req);
            };
            let last4 = shared
                .lock()
                .payment_methods
                .get(pm_id)
                .map(|pm| pm.instrument.last4())
                .unwrap_or_default();
            let page = AuthenticatePage {
                action: format!("{}/authenticate", session.url),
                total: money::format(session.quote(choices).total, &session.currency),
                last4: last4.to_owned(),
            };
            respond(page, StatusCode::OK, req)
        }
        Ok(PayOutcome::Declined(message)) => {
            let problem = Problem {
                status: StatusCode::PAYMENT_REQUIRED,
                message,
                field: "card_number",
            };
            let page = problem_page(&shared.lock(), session, form, problem);
            respond(page, StatusCode::PAYMENT_REQUIRED, req)
        }
        Err(err) => error_page(&err, req),
    }
}
