//! The `/v1` endpoints: the route table here, one module per resource.
//! Each handler runs with the state locked and returns the response body.

mod checkout_sessions;
mod common;
mod coupons;
mod customers;
mod events;
mod expand;
mod list;
mod payment_intents;
mod refunds;
mod session_params;
mod shipping_rates;
mod webhook_endpoints;

use serde_json::Value;

use crate::error::ApiError;
use crate::form::Params;
use crate::state::State;

pub fn handle(st: &mut State, method: &str, path: &str, p: &Params) -> Result<Value, ApiError> {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["checkout", "sessions"]) => checkout_sessions::create(st, p),
        ("GET", ["checkout", "sessions"]) => checkout_sessions::list(st, p),
        ("GET", ["checkout", "sessions", id]) => checkout_sessions::retrieve(st, p, id),
        ("POST", ["checkout", "sessions", id, "expire"]) => checkout_sessions::expire(st, p, id),
        ("GET", ["checkout", "sessions", id, "line_items"]) => {
            checkout_sessions::line_items(st, p, id)
        }
        ("POST", ["payment_intents"]) => payment_intents::create(st, p),
        ("GET", ["payment_intents"]) => payment_intents::list(st, p),
        ("GET", ["payment_intents", id]) => payment_intents::retrieve(st, p, id),
        ("POST", ["customers"]) => customers::create(st, p),
        ("GET", ["customers"]) => customers::list(st, p),
        ("GET", ["customers", id]) => customers::retrieve(st, p, id),
        ("GET", ["customers", id, "payment_methods"]) => customers::payment_methods(st, p, id),
        ("POST", ["refunds"]) => refunds::create(st, p),
        ("GET", ["refunds"]) => refunds::list(st, p),
        ("GET", ["refunds", id]) => refunds::retrieve(st, p, id),
        ("POST", ["coupons"]) => coupons::create_coupon(st, p),
        ("GET", ["coupons"]) => coupons::list_coupons(st, p),
        ("GET", ["coupons", id]) => coupons::retrieve_coupon(st, p, id),
        ("POST", ["promotion_codes"]) => coupons::create_promotion_code(st, p),
        ("GET", ["promotion_codes"]) => coupons::list_promotion_codes(st, p),
        ("GET", ["promotion_codes", id]) => coupons::retrieve_promotion_code(st, p, id),
        ("POST", ["shipping_rates"]) => shipping_rates::create(st, p),
        ("GET", ["shipping_rates"]) => shipping_rates::list(st, p),
        ("GET", ["shipping_rates", id]) => shipping_rates::retrieve(st, p, id),
        ("GET", ["events"]) => events::list(st, p),
        ("GET", ["events", id]) => events::retrieve(st, p, id),
        ("POST", ["webhook_endpoints"]) => webhook_endpoints::create(st, p),
        ("GET", ["webhook_endpoints"]) => webhook_endpoints::list(st, p),
        _ => {
            let mut err = ApiError::unrecognized_url(method, path);
            err.before_execution = true;
            Err(err)
        }
    }
}
