//! The `/v1` endpoints: routing, parameter validation and Stripe's JSON answers.
//! Each handler runs with the state locked and returns the response body.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::{Field, Params};
use crate::ids;
use crate::model::{Customer, LineItem, Session, SessionStatus, WebhookEndpoint};
use crate::payments::{self, NewIntent};
use crate::state::{State, find};

const LIST_PARAMS: &[&str] = &["limit", "starting_after", "ending_before", "expand[N]"];

const LOCALES: &[&str] = &[
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr",
    "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt",
    "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
];

pub fn handle(st: &mut State, method: &str, path: &str, p: &Params) -> Result<Value, ApiError> {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["checkout", "sessions"]) => create_session(st, p),
        ("GET", ["checkout", "sessions"]) => list_sessions(st, p),
        ("GET", ["checkout", "sessions", id]) => retrieve_session(st, p, id),
        ("POST", ["checkout", "sessions", id, "expire"]) => expire_session(st, p, id),
        ("GET", ["checkout", "sessions", id, "line_items"]) => list_line_items(st, p, id),
        ("POST", ["payment_intents"]) => create_payment_intent(st, p),
        ("GET", ["payment_intents", id]) => retrieve_payment_intent(st, p, id),
        ("POST", ["customers"]) => create_customer(st, p),
        ("GET", ["customers"]) => list_customers(st, p),
        ("GET", ["customers", id]) => retrieve_customer(st, p, id),
        ("GET", ["customers", id, "payment_methods"]) => list_payment_methods(st, p, id),
        ("POST", ["refunds"]) => create_refund(st, p),
        ("GET", ["events"]) => list_events(st, p),
        ("GET", ["events", id]) => retrieve_event(st, p, id),
        ("POST", ["webhook_endpoints"]) => create_webhook_endpoint(st, p),
        ("GET", ["webhook_endpoints"]) => list_webhook_endpoints(st, p),
        _ => {
            let mut err = ApiError::unrecognized_url(method, path);
            err.before_execution = true;
            Err(err)
        }
    }
}

// ---- shared helpers ----

/// The `expand[]` fields each object type supports.
fn expandable(object: &str) -> &'static [&'static str] {
    match object {
        "checkout.session" => &["line_items", "payment_intent", "customer"],
        "payment_intent" => &["customer", "latest_charge", "payment_method"],
        "charge" => &["customer", "payment_intent"],
        "refund" => &["charge", "payment_intent"],
        "payment_method" => &["customer"],
        _ => &[],
    }
}

/// Applies `expand[]` (dotted paths, `data.` inside lists) to a rendered object.
fn expand(st: &State, p: &Params, mut value: Value) -> Result<Value, ApiError> {
    for path in p.field("expand").string_list()? {
        let segments: Vec<&str> = path.split('.').collect();
        expand_path(st, &mut value, &segments, &path)?;
    }
    Ok(value)
}

fn expand_path(
    st: &State,
    value: &mut Value,
    segments: &[&str],
    full: &str,
) -> Result<(), ApiError> {
    let Some((field, rest)) = segments.split_first() else {
        return Ok(());
    };
    let object = value
        .get("object")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if object == "list" && *field == "data" {
        if let Some(items) = value["data"].as_array_mut() {
            for item in items {
                expand_path(st, item, rest, full)?;
            }
        }
        return Ok(());
    }
    if !expandable(&object).contains(field) {
        return Err(ApiError::invalid_param(
            "expand",
            format!("This property cannot be expanded ({full})."),
        ));
    }
    if object == "checkout.session" && *field == "line_items" {
        let id = value["id"].as_str().unwrap_or_default();
        if let Some(session) = find(&st.sessions, id) {
            // An expansion shows the first page with the default limit, like Stripe's.
            let items: Vec<Value> = session.line_items.iter().map(LineItem::to_json).collect();
            value["line_items"] = json!({
                "object": "list",
                "data": items.iter().take(10).collect::<Vec<_>>(),
                "has_more": items.len() > 10,
                "url": format!("/v1/checkout/sessions/{id}/line_items"),
            });
        }
    } else if let Some(rendered) = value[*field].as_str().and_then(|id| st.render(id)) {
        value[*field] = rendered;
    }
    match value.get_mut(*field) {
        // Deeper paths go through expanded objects; a null stays null.
        Some(inner) if inner.is_object() => expand_path(st, inner, rest, full),
        _ => Ok(()),
    }
}

/// One page of a list (`items` already in Stripe's order) with `limit`,
/// `starting_after` and `ending_before`.
fn page(
    p: &Params,
    url: &str,
    object: &str,
    items: Vec<(String, Value)>,
) -> Result<Value, ApiError> {
    let limit = p.field("limit").opt_int_min(1)?.unwrap_or(10);
    if limit > 100 {
        return Err(ApiError::invalid_param(
            "limit",
            "This value must be less than or equal to 100.",
        ));
    }
    let limit = usize::try_from(limit).unwrap_or(100);
    let position = |param: &str, id: &str| {
        items
            .iter()
            .position(|(item_id, _)| item_id == id)
            .ok_or_else(|| ApiError::no_such(object, id, param, false))
    };
    let after = p.field("starting_after").opt_str()?;
    let before = p.field("ending_before").opt_str()?;
    let (range, has_more) = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_param(
                "starting_after",
                "You may only specify one of these parameters: ending_before, starting_after.",
            ));
        }
        (Some(id), None) => {
            let start = position("starting_after", id)? + 1;
            let end = (start + limit).min(items.len());
            (start..end, end < items.len())
        }
        (None, Some(id)) => {
            let end = position("ending_before", id)?;
            let start = end.saturating_sub(limit);
            (start..end, start > 0)
        }
        (None, None) => {
            let end = limit.min(items.len());
            (0..end, end < items.len())
        }
    };
    let data: Vec<Value> = items[range].iter().map(|(_, v)| v.clone()).collect();
    Ok(json!({ "object": "list", "data": data, "has_more": has_more, "url": url }))
}

fn valid_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

fn url_param(field: &Field<'_>) -> Result<Option<String>, ApiError> {
    match field.opt_str()? {
        Some(url) if !valid_url(url) => {
            Err(ApiError::invalid_param(field.path(), "Not a valid URL").with_code("url_invalid"))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

fn email_param(field: &Field<'_>) -> Result<Option<String>, ApiError> {
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
fn currency_param(field: &Field<'_>) -> Result<String, ApiError> {
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
fn check_minimum_charge(amount: i64, currency: &str, message: &str) -> Result<(), ApiError> {
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

fn card_only(field: &Field<'_>) -> Result<Vec<String>, ApiError> {
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

fn existing_customer(st: &State, field: &Field<'_>) -> Result<Option<String>, ApiError> {
    match field.opt_str()? {
        Some(id) if find(&st.customers, id).is_none() => {
            Err(ApiError::no_such("customer", id, field.path(), false))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

// ---- checkout sessions ----

fn create_session(st: &mut State, p: &Params) -> Result<Value, ApiError> {
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
        let too_large =
            || ApiError::invalid_param(unit_field.path(), "The total amount is too large.");
        let amount = unit_amount.checked_mul(quantity).ok_or_else(too_large)?;
        total = total.checked_add(amount).ok_or_else(too_large)?;
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
        check_minimum_charge(
            total,
            currency,
            "The Checkout Session's total amount due must add up to",
        )
        .map_err(|error| error.with_param("line_items"))?;
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
    st.sessions.push(session);
    expand(st, p, json)
}

fn session_or_404<'a>(st: &'a State, id: &str) -> Result<&'a Session, ApiError> {
    find(&st.sessions, id).ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))
}

fn list_sessions(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["status", "customer", "payment_intent"]);
    p.check_allowed(&allowed)?;
    let status = p
        .field("status")
        .opt_enum(&["open", "complete", "expired"])?;
    let customer = p.field("customer").opt_str()?;
    let intent = p.field("payment_intent").opt_str()?;
    let items = st
        .sessions
        .iter()
        .rev()
        .filter(|s| status.is_none_or(|wanted| s.status.as_str() == wanted))
        .filter(|s| customer.is_none_or(|c| s.customer.as_deref() == Some(c)))
        .filter(|s| {
            intent.is_none_or(|i| {
                s.status == SessionStatus::Complete && s.payment_intent.as_deref() == Some(i)
            })
        })
        .map(|s| (s.id.clone(), s.to_json()))
        .collect();
    let list = page(p, "/v1/checkout/sessions", "checkout.session", items)?;
    expand(st, p, list)
}

fn retrieve_session(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let json = session_or_404(st, id)?.to_json();
    expand(st, p, json)
}

fn expire_session(st: &mut State, p: &Params, id: &str) -> Result<Value, ApiError> {
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

fn list_line_items(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(LIST_PARAMS)?;
    let session = session_or_404(st, id)?;
    let items = session
        .line_items
        .iter()
        .map(|li| (li.id.clone(), li.to_json()))
        .collect();
    let url = format!("/v1/checkout/sessions/{id}/line_items");
    let list = page(p, &url, "item", items)?;
    expand(st, p, list)
}

// ---- payment intents ----

fn create_payment_intent(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "amount",
        "currency",
        "customer",
        "payment_method",
        "confirm",
        "off_session",
        "description",
        "receipt_email",
        "setup_future_usage",
        "metadata[*]",
        "payment_method_types[N]",
        "expand[N]",
    ])?;
    let amount_field = p.field("amount");
    let amount = amount_field
        .opt_int_min(1)?
        .ok_or_else(|| ApiError::missing_param("amount"))?;
    let currency = currency_param(&p.field("currency"))?;
    check_minimum_charge(amount, &currency, "Amount must be")?;
    let customer = existing_customer(st, &p.field("customer"))?;
    let payment_method = match p.field("payment_method").opt_str()? {
        None => None,
        Some(pm_id) => {
            let pm = find(&st.payment_methods, pm_id).ok_or_else(|| {
                ApiError::no_such("PaymentMethod", pm_id, "payment_method", false)
            })?;
            if pm.customer != customer {
                return Err(ApiError::invalid_param(
                    "payment_method",
                    "The provided PaymentMethod was previously used with a PaymentIntent without \
                     Customer attachment, shared with a connected account without Customer \
                     attachment, or was detached from a Customer. It may not be used again. To \
                     use a PaymentMethod multiple times, you must attach it to a Customer first.",
                ));
            }
            Some(pm_id.to_owned())
        }
    };
    let confirm = p.field("confirm").opt_bool()?.unwrap_or(false);
    let off_session = match p.field("off_session").opt_str()? {
        None | Some("false") => false,
        Some("true" | "one_off" | "recurring") => true,
        Some(other) => {
            return Err(ApiError::invalid_param(
                "off_session",
                format!("Invalid off_session: {other}; must be a boolean, one_off or recurring"),
            ));
        }
    };
    if off_session && !confirm {
        return Err(ApiError::invalid_param(
            "off_session",
            "off_session can only be set when confirm=true.",
        ));
    }
    if confirm && payment_method.is_none() {
        return Err(ApiError::invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You \
             can either update the PaymentIntent with a payment method and then confirm it \
             again, or confirm it again directly with a payment method.",
        )
        .with_code("payment_intent_unexpected_state"));
    }
    card_only(&p.field("payment_method_types"))?;
    let new = NewIntent {
        amount,
        currency,
        customer,
        description: p.field("description").opt_bounded(1000)?,
        metadata: p.field("metadata").metadata()?,
        payment_method,
        setup_future_usage: p
            .field("setup_future_usage")
            .opt_enum(&["on_session", "off_session"])?,
        receipt_email: email_param(&p.field("receipt_email"))?,
    };
    let id = payments::create_intent(st, new);
    if confirm {
        payments::confirm_intent(st, &id, off_session)?;
    }
    let json = st.render(&id).ok_or_else(ApiError::internal)?;
    expand(st, p, json)
}

fn retrieve_payment_intent(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]", "client_secret"])?;
    if !id.starts_with("pi_") {
        return Err(ApiError::no_such("payment_intent", id, "intent", true));
    }
    let json = st
        .render(id)
        .ok_or_else(|| ApiError::no_such("payment_intent", id, "intent", true))?;
    expand(st, p, json)
}

// ---- customers ----

fn create_customer(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "email",
        "name",
        "phone",
        "description",
        "metadata[*]",
        "expand[N]",
    ])?;
    let email = email_param(&p.field("email"))?;
    let name = p.field("name").opt_bounded(256)?;
    let phone = p.field("phone").opt_bounded(20)?;
    let description = p.field("description").opt_bounded(350)?;
    let metadata = p.field("metadata").metadata()?;
    let customer = Customer {
        phone,
        description,
        metadata,
        ..Customer::new(st.now(), email, name)
    };
    let json = customer.to_json();
    st.add_customer(customer);
    expand(st, p, json)
}

fn list_customers(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("email");
    p.check_allowed(&allowed)?;
    // Stripe's email filter is an exact, case-sensitive match.
    let email = p.field("email").opt_str()?;
    let items = st
        .customers
        .iter()
        .rev()
        .filter(|c| email.is_none_or(|e| c.email.as_deref() == Some(e)))
        .map(|c| (c.id.clone(), c.to_json()))
        .collect();
    let list = page(p, "/v1/customers", "customer", items)?;
    expand(st, p, list)
}

fn retrieve_customer(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let customer =
        find(&st.customers, id).ok_or_else(|| ApiError::no_such("customer", id, "id", true))?;
    expand(st, p, customer.to_json())
}

fn list_payment_methods(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("type");
    p.check_allowed(&allowed)?;
    p.field("type").opt_enum(&["card"])?;
    if find(&st.customers, id).is_none() {
        return Err(ApiError::no_such("customer", id, "customer", true));
    }
    let items = st
        .payment_methods
        .iter()
        .rev()
        .filter(|pm| pm.customer.as_deref() == Some(id))
        .map(|pm| (pm.id.clone(), pm.to_json()))
        .collect();
    let url = format!("/v1/customers/{id}/payment_methods");
    let list = page(p, &url, "payment_method", items)?;
    expand(st, p, list)
}

// ---- refunds ----

fn create_refund(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "payment_intent",
        "charge",
        "amount",
        "reason",
        "metadata[*]",
        "expand[N]",
    ])?;
    let amount = p.field("amount").opt_int_min(1)?;
    let reason =
        p.field("reason")
            .opt_enum(&["duplicate", "fraudulent", "requested_by_customer"])?;
    let metadata = p.field("metadata").metadata()?;
    let charge_id = match (
        p.field("charge").opt_str()?,
        p.field("payment_intent").opt_str()?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_param(
                "charge",
                "You may only specify one of these parameters: charge, payment_intent.",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_param(
                "payment_intent",
                "One of the following params should be provided for this request: payment_intent or charge.",
            ));
        }
        (Some(charge), None) => {
            let found = find(&st.charges, charge)
                .ok_or_else(|| ApiError::no_such("charge", charge, "charge", false))?;
            if found.failure.is_some() {
                return Err(ApiError::invalid(format!(
                    "Charge {charge} has failed and cannot be refunded."
                ))
                .with_param("charge"));
            }
            charge.to_owned()
        }
        (None, Some(intent_id)) => {
            let intent = find(&st.payment_intents, intent_id).ok_or_else(|| {
                ApiError::no_such("payment_intent", intent_id, "payment_intent", false)
            })?;
            match (&intent.latest_charge, intent.status) {
                (Some(charge), "succeeded") => charge.clone(),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                    ))
                    .with_param("payment_intent"));
                }
            }
        }
    };
    let json = payments::refund(st, &charge_id, amount, reason, metadata)?;
    expand(st, p, json)
}

// ---- events ----

fn list_events(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["type", "types[N]"]);
    p.check_allowed(&allowed)?;
    let kind = p.field("type").opt_str()?;
    let kinds = p.field("types").string_list()?;
    // `type` may end in `.*`, as in `checkout.session.*`.
    let matches = |event_type: &str| {
        let single = kind.is_none_or(|k| match k.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => event_type == k,
        });
        single && (kinds.is_empty() || kinds.iter().any(|k| k == event_type))
    };
    let items = st
        .events
        .iter()
        .rev()
        .filter(|e| matches(&e.kind))
        .map(|e| (e.id.clone(), e.to_json()))
        .collect();
    page(p, "/v1/events", "event", items)
}

fn retrieve_event(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let event = find(&st.events, id).ok_or_else(|| ApiError::no_such("event", id, "id", true))?;
    expand(st, p, event.to_json())
}

// ---- webhook endpoints ----

fn create_webhook_endpoint(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "url",
        "enabled_events[N]",
        "description",
        "metadata[*]",
        "api_version",
        "expand[N]",
    ])?;
    let url = url_param(&p.field("url"))?.ok_or_else(|| ApiError::missing_param("url"))?;
    let events_field = p.field("enabled_events");
    let enabled_events = events_field.string_list()?;
    if enabled_events.is_empty() {
        return Err(ApiError::missing_param("enabled_events"));
    }
    for (i, event) in enabled_events.iter().enumerate() {
        let well_formed = event == "*"
            || (event.contains('.')
                && event
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'));
        if !well_formed {
            return Err(ApiError::invalid_param(
                &format!("enabled_events[{i}]"),
                format!("Invalid enabled_events[{i}]: {event} is not an event type"),
            ));
        }
    }
    let endpoint = WebhookEndpoint {
        id: ids::object("we"),
        created: st.now(),
        url,
        enabled_events,
        secret: ids::webhook_secret(),
        description: p.field("description").opt_bounded(5000)?,
        metadata: p.field("metadata").metadata()?,
        api_version: p.field("api_version").opt_string()?,
    };
    let json = endpoint.to_json(true);
    st.endpoints.push(endpoint);
    expand(st, p, json)
}

fn list_webhook_endpoints(st: &State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(LIST_PARAMS)?;
    let items = st
        .endpoints
        .iter()
        .rev()
        .map(|e| (e.id.clone(), e.to_json(false)))
        .collect();
    page(p, "/v1/webhook_endpoints", "webhook_endpoint", items)
}
