//! `/v1/webhook_endpoints`: create (the only answer showing the secret) and list.

use serde_json::Value;

use super::common::url_param;
use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::ids;
use crate::model::WebhookEndpoint;
use crate::state::State;

pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
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
    st.endpoints.insert(endpoint);
    expand(st, p, json)
}

pub fn list(st: &State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(LIST_PARAMS)?;
    page(
        p,
        "/v1/webhook_endpoints",
        |cursor| {
            st.endpoints
                .walk(cursor, "webhook_endpoint", None, |_| true)
        },
        |e| e.to_json(false),
    )
}
