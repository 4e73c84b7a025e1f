//! Stripe's list envelope and cursor pagination.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Params;
use crate::store::{Cursor, Walk};

/// The pagination parameters every list accepts.
pub const LIST_PARAMS: &[&str] = &["limit", "starting_after", "ending_before", "expand[N]"];

/// One page of a list with `limit`, `starting_after` and `ending_before`.
/// `walk` yields the items from the cursor on (newest first, or oldest first
/// for `ending_before`; see [`Walk`]); only the page's items are rendered.
pub fn page<'t, T: 't>(
    p: &Params,
    url: &str,
    walk: impl FnOnce(Cursor<'_>) -> Result<Walk<'t, T>, ApiError>,
    render: impl Fn(&T) -> Value,
) -> Result<Value, ApiError> {
    let limit = p.field("limit").opt_int_min(1)?.unwrap_or(10);
    if limit > 100 {
        return Err(ApiError::invalid_param(
            "limit",
            "This value must be less than or equal to 100.",
        ));
    }
    let limit = usize::try_from(limit).unwrap_or(100);
    let cursor = match (
        p.field("starting_after").opt_str()?,
        p.field("ending_before").opt_str()?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_param(
                "starting_after",
                "You may only specify one of these parameters: ending_before, starting_after.",
            ));
        }
        (Some(id), None) => Cursor::After(id),
        (None, Some(id)) => Cursor::Before(id),
        (None, None) => Cursor::Start,
    };
    let mut items: Vec<&T> = walk(cursor)?.take(limit + 1).collect();
    let has_more = items.len() > limit;
    items.truncate(limit);
    if let Cursor::Before(_) = cursor {
        items.reverse();
    }
    let data: Vec<Value> = items.into_iter().map(render).collect();
    Ok(json!({ "object": "list", "data": data, "has_more": has_more, "url": url }))
}

/// Walks a short list kept in order inside another object (a session's line
/// items), for [`page`]: list order is the slice's order.
pub fn walk_slice<'t, T>(
    items: &'t [T],
    cursor: Cursor<'_>,
    object: &str,
    id: impl Fn(&T) -> &str,
) -> Result<Walk<'t, T>, ApiError> {
    let position = |cursor_id: &str| {
        items
            .iter()
            .position(|item| id(item) == cursor_id)
            .ok_or_else(|| cursor.missing(object))
    };
    Ok(match cursor {
        Cursor::Start => Box::new(items.iter()),
        Cursor::After(after) => Box::new(items[position(after)? + 1..].iter()),
        Cursor::Before(before) => Box::new(items[..position(before)?].iter().rev()),
    })
}
