//! The back office's door: the middleware in front of every `/admin`
//! route (a staff session or 303 to the sign-in page; `no-store` on every
//! answer), the sign-in page and sign-out.
//!
//! The staff session is its own cookie (`storefront_staff`, `Path=/admin`,
//! `SameSite=Strict`, `HttpOnly`), holding a random token whose SHA-256
//! keys the session in PostgreSQL: the shopper's cookie session never
//! opens a staff page. Before sign-in, the sign-in form's CSRF token is a
//! random value in a cookie of its own, which the form must repeat.

use std::future::{Ready, ready};

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, LOCATION, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::domain::{NextPath, SessionRules, StaffSession};
use super::sign_in::{self, SignInError, random_token};
use crate::admin::http::AdminLayout;
use crate::state::AppState;
use crate::web::rate_limit::RateLimiter;
use crate::web::{AppError, CsrfForm, SessionCsrf};

const SESSION_COOKIE: &str = "storefront_staff";
const SIGN_IN_COOKIE: &str = "storefront_staff_login";
const COOKIE_PATH: &str = "/admin";
const SIGN_IN_PATH: &str = "/admin/login";

/// Middleware for the `/admin` scope. The sign-in page is open (its form's
/// CSRF token comes from its own cookie); every other path needs a live
/// staff session, else 303 to the sign-in page with `next` (for a GET).
/// Every answer, redirects and errors included, is `Cache-Control: no-store`.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let mut response = if req.path() == SIGN_IN_PATH {
        let token = req
            .cookie(SIGN_IN_COOKIE)
            .map(|cookie| cookie.value().to_owned())
            .unwrap_or_default();
        req.extensions_mut().insert(SessionCsrf(token));
        next.call(req).await?.map_into_left_body()
    } else {
        match staff_session(req.request()).await {
            Ok(Some(session)) => {
                req.extensions_mut()
                    .insert(SessionCsrf(session.csrf_token.clone()));
                req.extensions_mut().insert(session.clone());
                let response = next.call(req).await?;
                match in_back_office_look(&response, &session).await {
                    Some(page) => response
                        .map_body(|_, _| BoxBody::new(page))
                        .map_into_right_body(),
                    None => response.map_into_left_body(),
                }
            }
            Ok(None) => {
                let had_cookie = req.cookie(SESSION_COOKIE).is_some();
                let response = to_sign_in(req.request(), had_cookie);
                req.into_response(response).map_into_right_body()
            }
            Err(error) => {
                let response = error.error_response();
                req.into_response(response).map_into_right_body()
            }
        }
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A page's error answer (a wrong id, a bad filter, an unknown path) shown
/// in the back office's look; its status and headers stay.
async fn in_back_office_look<B>(
    response: &ServiceResponse<B>,
    staff: &StaffSession,
) -> Option<String> {
    let error = response.response().error()?.as_error::<AppError>()?;
    crate::admin::http::error_page(response.request(), staff, error).await
}

/// The live staff session behind the request's cookie, if any.
async fn staff_session(req: &HttpRequest) -> Result<Option<StaffSession>, AppError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let state = app_state(req)?;
    Ok(sign_in::session(&state.db, cookie.value(), state.staff_sessions.idle_timeout).await?)
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no app state")))
}

/// 303 to the sign-in page, which sends a GET back where it was going.
fn to_sign_in(req: &HttpRequest, had_cookie: bool) -> HttpResponse {
    let wanted = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|_| req.method() == actix_web::http::Method::GET)
        .and_then(NextPath::parse)
        .filter(|path| path.as_str() != "/admin");
    let location = match wanted {
        Some(path) => format!(
            "{SIGN_IN_PATH}?{}",
            serde_urlencoded::to_string([("next", path.as_str())]).unwrap_or_default()
        ),
        None => SIGN_IN_PATH.to_owned(),
    };
    let mut response = HttpResponse::SeeOther();
    response.insert_header((LOCATION, location));
    if had_cookie {
        // An ended session's cookie is of no more use.
        response.cookie(removal(SESSION_COOKIE));
    }
    response.finish()
}

/// Handlers of signed-in pages take the session the middleware found.
impl FromRequest for StaffSession {
    type Error = AppError;
    type Future = Ready<Result<StaffSession, AppError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<StaffSession>()
                .cloned()
                .ok_or_else(|| {
                    AppError::Unexpected(anyhow::anyhow!("no staff session on an /admin route"))
                }),
        )
    }
}

#[derive(Template)]
#[template(path = "admin/login.html")]
pub struct SignInPage {
    layout: AdminLayout,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    next: String,
}

/// `GET /admin/login`: the sign-in form (or, signed in already, onwards).
pub async fn login_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, AppError> {
    let next = NextPath::parse(&query.next).unwrap_or_default();
    if staff_session(&req).await?.is_some() {
        return Ok(see_other(next.as_str()));
    }
    sign_in_page(&state, &req, String::new(), next, None, StatusCode::OK)
}

/// The sign-in page, with a CSRF token from its cookie (a new one if the
/// browser has none yet).
fn sign_in_page(
    state: &AppState,
    req: &HttpRequest,
    email: String,
    next: NextPath,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let existing = req
        .cookie(SIGN_IN_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|token| token.len() >= 32);
    let token = existing.clone().unwrap_or_else(random_token);
    let page = SignInPage {
        layout: AdminLayout::signed_out(token.clone(), state.test_mode(), req),
        email,
        next: next.as_str().to_owned(),
        error,
    };
    let body = page.render().map_err(anyhow::Error::from)?;
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    if existing.is_none() {
        response.cookie(cookie(SIGN_IN_COOKIE, token, state.staff_sessions));
    }
    Ok(response.body(body))
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /admin/login`.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    limiter: web::Data<RateLimiter>,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<HttpResponse, AppError> {
    let next = NextPath::parse(&form.next).unwrap_or_default();
    let client = limiter
        .client(&req)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let previous = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let outcome = sign_in::sign_in(
        &state.db,
        &client,
        &form.email,
        form.password,
        previous.as_deref(),
    )
    .await;
    let again = |message: String, status| {
        sign_in_page(
            &state,
            &req,
            form.email.clone(),
            next.clone(),
            Some(message),
            status,
        )
    };
    match outcome {
        Ok(signed_in) => {
            let mut response = see_other(next.as_str());
            let rules = state.staff_sessions;
            response
                .add_cookie(&cookie(SESSION_COOKIE, signed_in.token, rules))
                .map_err(anyhow::Error::from)?;
            response
                .add_cookie(&removal(SIGN_IN_COOKIE))
                .map_err(anyhow::Error::from)?;
            Ok(response)
        }
        Err(SignInError::Refused) => again(
            "That email and password don't match an account. Please try again.".into(),
            StatusCode::UNAUTHORIZED,
        ),
        Err(SignInError::Throttled { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let mut response = again(
                format!(
                    "Too many failed sign-ins. For your security, please wait {minutes} minute{} before trying again.",
                    if minutes == 1 { "" } else { "s" }
                ),
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(response)
        }
        Err(SignInError::Database(error)) => Err(error.into()),
        Err(SignInError::Unexpected(error)) => Err(error.into()),
    }
}

/// `POST /admin/logout`: ends the session everywhere it is used.
pub async fn logout(
    state: web::Data<AppState>,
    session: StaffSession,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    sign_in::sign_out(&state.db, &session).await?;
    let mut response = see_other("/admin/login?notice=signed-out");
    response
        .add_cookie(&removal(SESSION_COOKIE))
        .map_err(anyhow::Error::from)?;
    Ok(response)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .finish()
}

fn cookie(name: &'static str, value: String, rules: SessionRules) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(rules.secure_cookie)
        .finish()
}

fn removal(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "").path(COOKIE_PATH).finish();
    cookie.make_removal();
    cookie
}
