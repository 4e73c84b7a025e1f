//! `expand[]`: replacing ids in a rendered object by the objects they name.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Params;
use crate::model::LineItem;
use crate::state::State;

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
pub fn expand(st: &State, p: &Params, mut value: Value) -> Result<Value, ApiError> {
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
        if let Some(session) = st.sessions.get(id) {
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
