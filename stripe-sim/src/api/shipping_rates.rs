//! `/v1/shipping_rates`: create, list and retrieve fixed-amount rates, and
//! the same fields as a session's inline `shipping_options[N][shipping_rate_data]`.

use serde_json::Value;

use super::common::{amount_param, currency_param, nested};
use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::{Field, Params};
use crate::ids;
use crate::model::{Bound, ShippingRate};
use crate::pricing::TaxBehavior;
use crate::state::State;

/// The fields of a shipping rate, as parameters.
pub const RATE_PARAMS: &[&str] = &[
    "display_name",
    "type",
    "fixed_amount[amount]",
    "fixed_amount[currency]",
    "delivery_estimate[minimum][unit]",
    "delivery_estimate[minimum][value]",
    "delivery_estimate[maximum][unit]",
    "delivery_estimate[maximum][value]",
    "tax_behavior",
    "metadata[*]",
];

const UNITS: &[&str] = &["business_day", "day", "hour", "month", "week"];

/// The rate's parameters under `prefix` (a session's inline rate).
pub fn nested_params(prefix: &str) -> Vec<String> {
    RATE_PARAMS.iter().map(|key| nested(prefix, key)).collect()
}

fn bound(field: &Field<'_>) -> Result<Option<Bound>, ApiError> {
    if !field.is_present() {
        return Ok(None);
    }
    let unit = field
        .child("unit")
        .opt_enum(UNITS)?
        .ok_or_else(|| ApiError::missing_param(field.child("unit").path()))?;
    let value_field = field.child("value");
    let value = value_field
        .opt_int_min(1)?
        .ok_or_else(|| ApiError::missing_param(value_field.path()))?;
    Ok(Some(Bound { unit, value }))
}

/// Reads a rate from its fields under `data` (the parameters' root, or a
/// session's `shipping_rate_data`).
pub fn parse(st: &State, data: &Field<'_>) -> Result<ShippingRate, ApiError> {
    let display_name = data.child("display_name").opt_bounded(100)?;
    let display_name =
        display_name.ok_or_else(|| ApiError::missing_param(data.child("display_name").path()))?;
    data.child("type").opt_enum(&["fixed_amount"])?;
    let fixed = data.child("fixed_amount");
    if !fixed.is_present() {
        return Err(ApiError::missing_param(fixed.path()));
    }
    let amount = amount_param(&fixed.child("amount"))?
        .ok_or_else(|| ApiError::missing_param(fixed.child("amount").path()))?;
    let currency = currency_param(&fixed.child("currency"))?;
    let estimate = data.child("delivery_estimate");
    Ok(ShippingRate {
        id: ids::object("shr"),
        created: st.now(),
        display_name,
        amount,
        currency,
        tax_behavior: data
            .child("tax_behavior")
            .opt_enum(TaxBehavior::NAMES)?
            .map_or(TaxBehavior::Unspecified, TaxBehavior::parse),
        minimum: bound(&estimate.child("minimum"))?,
        maximum: bound(&estimate.child("maximum"))?,
        metadata: data.child("metadata").metadata()?,
    })
}

pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = RATE_PARAMS.to_vec();
    allowed.push("expand[N]");
    p.check_allowed(&allowed)?;
    let rate = parse(st, &p.root())?;
    let json = rate.to_json();
    st.shipping_rates.insert(rate);
    expand(st, p, json)
}

pub fn list(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["active", "currency"]);
    p.check_allowed(&allowed)?;
    // Rates are never archived here: `active=false` lists none.
    let active = p.field("active").opt_bool()?.unwrap_or(true);
    let currency = p.field("currency").opt_str()?.map(str::to_ascii_lowercase);
    page(
        p,
        "/v1/shipping_rates",
        |cursor| {
            st.shipping_rates
                .walk(cursor, "shipping_rate", None, move |rate| {
                    active && currency.as_ref().is_none_or(|c| *c == rate.currency)
                })
        },
        ShippingRate::to_json,
    )
}

pub fn retrieve(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let rate = st
        .shipping_rates
        .get(id)
        .ok_or_else(|| ApiError::no_such("shipping_rate", id, "shipping_rate_token", true))?;
    expand(st, p, rate.to_json())
}
