//! A validator for the subset of OpenAPI 3.0 that Stripe's spec uses for its
//! objects: `$ref`, `type`, `nullable`, `required`, `properties`,
//! `additionalProperties`, `items`, `enum`, `anyOf` and `maxLength`. Properties
//! the schema does not list are errors too, to catch misspelt field names.

use std::sync::LazyLock;

use serde_json::Value;

/// The component schemas of Stripe's OpenAPI spec (2023-08-16) that the
/// tests use, with everything they reference; see extract_schemas.py.
const SCHEMAS_JSON: &str = include_str!("stripe-schemas-2023-08-16.json");

static SCHEMAS: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(SCHEMAS_JSON).expect("the schemas are JSON"));

/// Panics with every violation when `value` does not match the named component schema.
pub fn assert_valid(schema: &str, value: &Value) {
    let errors = errors(schema, value);
    assert!(
        errors.is_empty(),
        "{schema} does not match Stripe's spec:\n  {}\nvalue: {value:#}",
        errors.join("\n  ")
    );
}

pub fn errors(schema: &str, value: &Value) -> Vec<String> {
    let schema = SCHEMAS
        .get(schema)
        .unwrap_or_else(|| panic!("no schema {schema} in the spec"));
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    errors
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/components/schemas/");
        check(&SCHEMAS[name], value, path, errors);
        return;
    }
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            errors.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let matched = branches.iter().any(|branch| {
            let mut branch_errors = Vec::new();
            check(branch, value, path, &mut branch_errors);
            branch_errors.is_empty()
        });
        if !matched {
            errors.push(format!("{path}: matches none of the anyOf branches"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or(
        if schema.get("properties").is_some() {
            "object"
        } else {
            ""
        },
    );
    match kind {
        "string" => match value.as_str() {
            None => errors.push(format!("{path}: expected a string, got {value}")),
            Some(s) => {
                if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                    && s.chars().count() as u64 > max
                {
                    errors.push(format!("{path}: longer than {max}"));
                }
            }
        },
        "integer" if !(value.is_i64() || value.is_u64()) => {
            errors.push(format!("{path}: expected an integer, got {value}"));
        }
        "number" if !value.is_number() => {
            errors.push(format!("{path}: expected a number, got {value}"));
        }
        "boolean" if !value.is_boolean() => {
            errors.push(format!("{path}: expected a boolean, got {value}"));
        }
        "array" => match value.as_array() {
            None => errors.push(format!("{path}: expected an array, got {value}")),
            Some(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        check(item_schema, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
        },
        "object" => check_object(schema, value, path, errors),
        _ => {}
    }
}

fn check_object(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(object) = value.as_object() else {
        errors.push(format!("{path}: expected an object, got {value}"));
        return;
    };
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !object.contains_key(required) {
            errors.push(format!("{path}: missing required property {required}"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    for (key, item) in object {
        let item_path = format!("{path}.{key}");
        match (properties.and_then(|p| p.get(key)), additional) {
            (Some(property), _) => check(property, item, &item_path, errors),
            (None, Some(extra)) if extra.is_object() => check(extra, item, &item_path, errors),
            (None, _) if properties.is_some() => {
                errors.push(format!("{item_path}: not a property of this schema"));
            }
            (None, _) => {}
        }
    }
}

#[test]
fn the_validator_catches_what_it_should() {
    let ok = serde_json::json!({"type": "card_error", "code": "card_declined"});
    assert!(errors("api_errors", &ok).is_empty());
    let bad = serde_json::json!({"type": "oops", "code": null, "colour": "red"});
    let found = errors("api_errors", &bad);
    assert_eq!(found.len(), 3, "{found:?}");
    let missing = serde_json::json!({"object": "customer"});
    assert!(
        errors("customer", &missing)
            .iter()
            .any(|e| e.contains("missing required property id"))
    );
    // An expandable field takes the id or the object.
    let refund = serde_json::json!({
        "id": "re_1", "object": "refund", "amount": 1, "created": 1, "currency": "usd",
        "charge": "ch_1"
    });
    assert!(errors("refund", &refund).is_empty());
    let refund_with_object = serde_json::json!({
        "id": "re_1", "object": "refund", "amount": 1, "created": 1, "currency": "usd",
        "charge": {"id": "ch_1"}
    });
    assert!(!errors("refund", &refund_with_object).is_empty());
}
