//! `/v1/checkout/sessions`: create, list, retrieve, expire and line items.

use serde_json::Value;

use super::common::{
    AmountOf, card_only, check_amount, currency_param, email_param, existing_customer, url_param,
};
use super::expand::expand;
use super::list::{LIST_PARAMS, page, walk_slice};
use crate::error::ApiError;
use crate::form::Params;
use crate::ids;
use crate::model::{LineItem, Session, SessionStatus};
use crate::state::State;

const LOCALES: &[&str] = &[
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr",
    "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt",
    "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
];

pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "mode",
        "success_url",
        "cancel_url",
        "client_reference_id",
        "customer",
        "customer_email",
        "customer_creation",
        "expires_at",
        "locale",
        "submit_type",
        "metadata[*]",
        "payment_method_types[N]",
        "expand[N]",
        "line_items[N][quantity]",
        "line_items[N][price]",
        "line_items[N][price_data][currency]",
        "line_items[N][price_data][unit_amount]",
        "line_items[N][price_data][product_data][name]",
        "line_items[N][price_data][product_data][description]",
        "payment_intent_data[setup_future_usage]",
        "payment_intent_data[description]",
        "payment_intent_data[metadata][*]",
    ])?;
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
    let items = p.field("line_items").items()?;
    if items.is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    if items.len() > 100 {
        return Err(ApiError::invalid_param(
            "line_items",
            "You may only specify up to 100 line items in payment mode.",
        ));
    }
    let mut line_items = Vec::with_capacity(items.len());
    let mut currency: Option<String> = None;
    let mut total: i64 = 0;
    for item in &items {
        let price = item.child("price");
        if let Some(price_id) = price.opt_str()? {
            // Prices are not simulated: only `price_data` describes an item.
            return Err(ApiError::no_such("price", price_id, price.path(), false));
        }
        let price_data = item.child("price_data");
        if !price_data.is_present() {
            return Err(ApiError::missing_param(price_data.path()));
        }
        let item_currency = currency_param(&price_data.child("currency"))?;
        let unit_field = price_data.child("unit_amount");
        let unit_amount = unit_field
            .opt_int_min(0)?
            .ok_or_else(|| ApiError::missing_param(unit_field.path()))?;
        let product = price_data.child("product_data");
        let name = product.child("name").req_str()?.to_owned();
        let description = product.child("description").opt_string()?;
        let quantity_field = item.child("quantity");
        let quantity = quantity_field
            .opt_int_min(1)?
            .ok_or_else(|| ApiError::missing_param(quantity_field.path()))?;
        match &currency {
            Some(c) if *c != item_currency => {
                return Err(ApiError::invalid_param(
                    price_data.child("currency").path(),
                    "All line items must use the same currency.",
                ));
            }
            _ => currency = Some(item_currency.clone()),
        }
        // Saturating: anything near overflow is far above Stripe's maximum anyway.
        let amount = unit_amount.saturating_mul(quantity);
        total = total.saturating_add(amount);
        line_items.push(LineItem {
            id: ids::object("li"),
            price_id: ids::object("price"),
            product_id: ids::short("prod"),
            name,
            description,
            currency: item_currency,
            unit_amount,
            quantity,
            amount,
            created: now,
        });
    }

    if let Some(currency) = &currency {
        check_amount(total, currency, AmountOf::CheckoutSession)?;
    }
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
    let mut payment_method_types = card_only(&p.field("payment_method_types"))?;
    if payment_method_types.is_empty() {
        payment_method_types.push("card".to_owned());
    }
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

    let id = ids::checkout_session();
    let session = Session {
        url: format!("{}/c/pay/{id}", st.public_url),
        id,
        created: now,
        expires_at,
        status: SessionStatus::Open,
        paid: false,
        currency: currency.unwrap_or_default(),
        line_items,
        amount_total: total,
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
        payment_intent: None,
        pending_authentication: None,
    };
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
    let list = page(
        p,
        &url,
        |cursor| walk_slice(&session.line_items, cursor, "item", |li| &li.id),
        LineItem::to_json,
    )?;
    expand(st, p, list)
}
