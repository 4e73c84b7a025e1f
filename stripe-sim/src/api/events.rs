//! `/v1/events`: list (filtered by type) and retrieve.

use serde_json::Value;

use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::model::Event;
use crate::state::State;

pub fn list(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["type", "types[N]"]);
    p.check_allowed(&allowed)?;
    let kind = p.field("type").opt_str()?;
    let kinds = p.field("types").string_list()?;
    // `type` may end in `.*`, as in `checkout.session.*`.
    let matches = move |event_type: &str| {
        let single = kind.is_none_or(|k| match k.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => event_type == k,
        });
        single && (kinds.is_empty() || kinds.iter().any(|k| k == event_type))
    };
    page(
        p,
        "/v1/events",
        |cursor| {
            st.events
                .walk(cursor, "event", None, move |e| matches(&e.kind))
        },
        Event::to_json,
    )
}

pub fn retrieve(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let event = st
        .events
        .get(id)
        .ok_or_else(|| ApiError::no_such("event", id, "id", true))?;
    expand(st, p, event.to_json())
}
