//! `/v1/checkout/sessions`: create, list, retrieve, expire and line items.

use serde_json::Value;

use super::common::{AmountOf, check_amount, email_param, existing_customer, url_param};
use super::expand::expand;
use super::list::{LIST_PARAMS, page, walk_slice};
use super::session_params;
use crate::error::ApiError;
use crate::form::Params;
use crate::ids;
use crate::model::{Choices, Payment, Session, SessionStatus};
use crate::promotions::Order;
use crate::state::State;

const LOCALES: &[&str] = &[
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr",
    "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt",
    "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
];

pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    let allowed = session_params::allowed();
    p.check_allowed(&allowed.iter().map(String::as_str).collect::<Vec<_>>())?;
    let mode = p.field("mode");
    match mode.opt_enum(&["payment", "setup", "subscription"])? {
        None => return Err(ApiError::missing_param("mode")),
        Some("payment") => {}
        Some(other) => {
            return Err(ApiError::invalid_param(
                "mode",
                format!("mode={other} is not supported by this simulator; use mode=payment."),
            ));
        }
    }
    let success_url = url_param(&p.field("success_url"))?
        .ok_or_else(|| ApiError::missing_param("success_url"))?;
    let cancel_url = url_param(&p.field("cancel_url"))?;

    let now = st.now();
    let (line_items, currency) = session_params::line_items(p, now)?;
    let customer = existing_customer(st, &p.field("customer"))?;
    let customer_email = email_param(&p.field("customer_email"))?;
    let customer_creation = p
        .field("customer_creation")
        .opt_enum(&["always", "if_required"])?;
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::invalid_param(
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    if customer.is_some() && customer_creation.is_some() {
        return Err(ApiError::invalid_param(
            "customer_creation",
            "You may only specify one of these parameters: customer, customer_creation.",
        ));
    }
    let client_reference_id = p.field("client_reference_id").opt_bounded(200)?;
    let metadata = p.field("metadata").metadata()?;
    let expires_at = match p.field("expires_at").opt_int()? {
        None => now + 24 * 60 * 60,
        Some(t) if t < now + 30 * 60 => {
            return Err(ApiError::invalid_param(
                "expires_at",
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            ));
        }
        Some(t) if t > now + 24 * 60 * 60 => {
            return Err(ApiError::invalid_param(
                "expires_at",
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            ));
        }
        Some(t) => t,
    };
    let payment_method_types = session_params::payment_method_types(p, &currency)?;
    let intent_data = p.field("payment_intent_data");
    let setup_future_usage = intent_data
        .child("setup_future_usage")
        .opt_enum(&["on_session", "off_session"])?;
    let payment_intent_description = intent_data.child("description").opt_bounded(1000)?;
    let payment_intent_metadata = intent_data.child("metadata").metadata()?;
    let locale = p.field("locale").opt_enum(LOCALES)?;
    let submit_type = p
        .field("submit_type")
        .opt_enum(&["auto", "book", "donate", "pay"])?;
    let automatic_tax = match p.field("automatic_tax") {
        tax if tax.is_present() => tax
            .child("enabled")
            .opt_bool()?
            .ok_or_else(|| ApiError::missing_param("automatic_tax[enabled]"))?,
        _ => false,
    };
    let allow_promotion_codes = p.field("allow_promotion_codes").opt_bool()?;
    let shipping_countries = session_params::shipping_countries(p)?;
    let subtotal = line_items
        .iter()
        .fold(0, |sum: i64, item| sum.saturating_add(item.amount));
    let order = Order {
        currency: &currency,
        subtotal,
        customer: customer.as_deref(),
    };
    let discount = session_params::discount(st, p, &order)?;
    let (shipping_options, new_rates) = session_params::shipping_options(st, p, &currency)?;

    let id = ids::checkout_session();
    let session = Session {
        url: format!("{}/c/pay/{id}", st.public_url),
        id,
        created: now,
        expires_at,
        status: SessionStatus::Open,
        payment: Payment::Unpaid,
        currency,
        line_items,
        success_url,
        cancel_url,
        client_reference_id,
        customer,
        customer_email,
        customer_creation: customer_creation.unwrap_or("if_required"),
        customer_details: None,
        metadata,
        locale,
        submit_type,
        payment_method_types,
        setup_future_usage,
        payment_intent_metadata,
        payment_intent_description,
        allow_promotion_codes,
        automatic_tax,
        shipping_countries,
        choices: Choices {
            shipping_rate: shipping_options.first().map(|rate| rate.id.clone()),
            discount,
            ..Choices::default()
        },
        shipping_options,
        payment_intent: None,
        pending_authentication: None,
    };
    check_amount(
        session.amount_total(),
        &session.currency,
        AmountOf::CheckoutSession,
    )?;
    for rate in new_rates {
        st.shipping_rates.insert(rate);
    }
    let json = session.to_json();
    st.sessions.insert(session);
    expand(st, p, json)
}

fn session_or_404<'a>(st: &'a State, id: &str) -> Result<&'a Session, ApiError> {
    st.sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))
}

pub fn list(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["status", "customer", "payment_intent"]);
    p.check_allowed(&allowed)?;
    let status = p
        .field("status")
        .opt_enum(&["open", "complete", "expired"])?;
    let customer = p.field("customer").opt_str()?;
    let intent = p.field("payment_intent").opt_str()?;
    // The most selective filter goes through an index, the others check each session.
    let by = match (intent, customer) {
        (Some(intent), _) => Some(("payment_intent", intent)),
        (None, Some(customer)) => Some(("customer", customer)),
        (None, None) => None,
    };
    let keep = move |s: &Session| {
        status.is_none_or(|wanted| s.status.as_str() == wanted)
            && customer.is_none_or(|c| s.customer.as_deref() == Some(c))
            // A session shows its PaymentIntent only once complete.
            && intent.is_none_or(|_| s.status == SessionStatus::Complete)
    };
    let list = page(
        p,
        "/v1/checkout/sessions",
        |cursor| st.sessions.walk(cursor, "checkout.session", by, keep),
        Session::to_json,
    )?;
    expand(st, p, list)
}

pub fn retrieve(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let json = session_or_404(st, id)?.to_json();
    expand(st, p, json)
}

pub fn expire(st: &mut State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let status = session_or_404(st, id)?.status;
    if status != SessionStatus::Open {
        return Err(ApiError::invalid(format!(
            "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout \
             Session has a status of `{}`.",
            status.as_str()
        )));
    }
    st.expire_session(id)?;
    let json = session_or_404(st, id)?.to_json();
    expand(st, p, json)
}

pub fn line_items(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(LIST_PARAMS)?;
    let session = session_or_404(st, id)?;
    let url = format!("/v1/checkout/sessions/{id}/line_items");
    let items = session.line_items_json();
    let list = page(
        p,
        &url,
        |cursor| {
            walk_slice(&items, cursor, "item", |item| {
                item["id"].as_str().unwrap_or_default()
            })
        },
        Value::clone,
    )?;
    expand(st, p, list)
}
