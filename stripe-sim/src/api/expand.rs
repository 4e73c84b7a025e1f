//! `expand[]`: replacing ids in a rendered object by the objects they name.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Params;
use crate::state::State;

/// The `expand[]` fields each object type (or hash inside one, as
/// `checkout.session.total_details`) supports.
fn expandable(kind: &str) -> &'static [&'static str] {
    match kind {
        "checkout.session" => &[
            "line_items",
            "payment_intent",
            "customer",
            "shipping_cost",
            "total_details",
        ],
        "checkout.session.shipping_cost" => &["shipping_rate"],
        "checkout.session.total_details" => &["breakdown"],
        "payment_intent" => &["customer", "latest_charge", "payment_method"],
        "charge" => &["customer", "payment_intent"],
        "refund" => &["charge", "payment_intent"],
        "payment_method" => &["customer"],
        _ => &[],
    }
}

/// Applies `expand[]` (dotted paths, `data.` inside lists) to a rendered object.
pub fn expand(st: &State, p: &Params, mut value: Value) -> Result<Value, ApiError> {
    for path in p.field("expand").string_list()? {
        let segments: Vec<&str> = path.split('.').collect();
        expand_path(st, &mut value, "", &segments, &path)?;
    }
    Ok(value)
}

/// `parent` is the kind of the hash holding `value`, if it is not an object.
fn expand_path(
    st: &State,
    value: &mut Value,
    parent: &str,
    segments: &[&str],
    full: &str,
) -> Result<(), ApiError> {
    let Some((field, rest)) = segments.split_first() else {
        return Ok(());
    };
    let object = value
        .get("object")
        .and_then(Value::as_str)
        .map_or_else(|| parent.to_owned(), str::to_owned);
    if object == "list" && *field == "data" {
        if let Some(items) = value["data"].as_array_mut() {
            for item in items {
                expand_path(st, item, "", rest, full)?;
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
        if let Some(session) = st.sessions.get(id) {
            // An expansion shows the first page with the default limit, like Stripe's.
            let items = session.line_items_json();
            value["line_items"] = json!({
                "object": "list",
                "data": items.iter().take(10).collect::<Vec<_>>(),
                "has_more": items.len() > 10,
                "url": format!("/v1/checkout/sessions/{id}/line_items"),
            });
        }
    } else if object == "checkout.session" && *field == "total_details" && !rest.is_empty() {
        // The breakdown is computed from the session, so it is added here.
        let id = value["id"].as_str().unwrap_or_default();
        if let Some(session) = st.sessions.get(id) {
            value["total_details"]["breakdown"] = session.breakdown_json(st.now());
        }
    } else if let Some(rendered) = value[*field].as_str().and_then(|id| st.render(id)) {
        value[*field] = rendered;
    }
    let kind = format!("{object}.{field}");
    match value.get_mut(*field) {
        // Deeper paths go through expanded objects and hashes; a null stays null.
        Some(inner) if inner.is_object() => expand_path(st, inner, &kind, rest, full),
        _ => Ok(()),
    }
}
