//! Stripe's list envelope and cursor pagination.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Params;

/// The pagination parameters every list accepts.
pub const LIST_PARAMS: &[&str] = &["limit", "starting_after", "ending_before", "expand[N]"];

/// One page of a list (`items` already in Stripe's order) with `limit`,
/// `starting_after` and `ending_before`.
pub fn page(
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
