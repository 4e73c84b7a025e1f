//! `/v1/coupons` and `/v1/promotion_codes`: create, list and retrieve.

use serde_json::Value;

use super::common::{
    amount_param, currency_param, existing_customer, future_timestamp, percent_param,
};
use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::ids;
use crate::model::{Coupon, PromotionCode};
use crate::pricing::Off;
use crate::state::State;

pub fn create_coupon(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "id",
        "name",
        "percent_off",
        "amount_off",
        "currency",
        "duration",
        "duration_in_months",
        "max_redemptions",
        "redeem_by",
        "metadata[*]",
        "expand[N]",
    ])?;
    let now = st.now();
    let off = match (
        percent_param(&p.field("percent_off"))?,
        amount_param(&p.field("amount_off"))?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_param(
                "percent_off",
                "You may only specify one of these parameters: amount_off, percent_off.",
            ));
        }
        (Some(bp), None) => Off::Percent(bp),
        (None, Some(0)) => {
            return Err(ApiError::invalid_param(
                "amount_off",
                "This value must be greater than or equal to 1.",
            ));
        }
        (None, Some(amount)) => Off::Amount(amount),
        (None, None) => {
            return Err(ApiError::invalid_param(
                "percent_off",
                "You must specify either percent_off or amount_off.",
            ));
        }
    };
    let currency = match (off, p.field("currency").is_present()) {
        (Off::Amount(_), true) => Some(currency_param(&p.field("currency"))?),
        (Off::Amount(_), false) => return Err(ApiError::missing_param("currency")),
        (Off::Percent(_), true) => {
            return Err(ApiError::invalid_param(
                "currency",
                "currency can only be set with amount_off.",
            ));
        }
        (Off::Percent(_), false) => None,
    };
    let duration = p
        .field("duration")
        .opt_enum(&["forever", "once", "repeating"])?
        .unwrap_or("once");
    let months = p.field("duration_in_months").opt_int_min(1)?;
    if (duration == "repeating") != months.is_some() {
        return Err(ApiError::invalid_param(
            "duration_in_months",
            "duration_in_months must be given when, and only when, duration is repeating.",
        ));
    }
    let id = match p.field("id").opt_bounded(200)? {
        Some(id) if st.coupons.get(&id).is_some() => {
            return Err(ApiError::invalid_param("id", "Coupon already exists.")
                .with_code("resource_already_exists"));
        }
        Some(id) => id,
        None => ids::code(),
    };
    let coupon = Coupon {
        id,
        created: now,
        name: p.field("name").opt_bounded(40)?,
        off,
        currency,
        duration,
        duration_in_months: months,
        max_redemptions: p.field("max_redemptions").opt_int_min(1)?,
        redeem_by: future_timestamp(&p.field("redeem_by"), now)?,
        times_redeemed: 0,
        metadata: p.field("metadata").metadata()?,
    };
    let json = coupon.to_json(now);
    st.coupons.insert(coupon);
    st.emit("coupon.created", json.clone());
    expand(st, p, json)
}

pub fn list_coupons(st: &State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(LIST_PARAMS)?;
    let now = st.now();
    page(
        p,
        "/v1/coupons",
        |cursor| st.coupons.walk(cursor, "coupon", None, |_| true),
        |coupon| coupon.to_json(now),
    )
}

pub fn retrieve_coupon(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let coupon = st
        .coupons
        .get(id)
        .ok_or_else(|| ApiError::no_such("coupon", id, "coupon", true))?;
    expand(st, p, coupon.to_json(st.now()))
}

pub fn create_promotion_code(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "coupon",
        "code",
        "active",
        "customer",
        "expires_at",
        "max_redemptions",
        "restrictions[minimum_amount]",
        "restrictions[minimum_amount_currency]",
        "metadata[*]",
        "expand[N]",
    ])?;
    let now = st.now();
    let coupon_id = p.field("coupon").req_str()?;
    let coupon = st
        .coupons
        .get(coupon_id)
        .ok_or_else(|| ApiError::no_such("coupon", coupon_id, "coupon", false))?;
    let active = p.field("active").opt_bool()?.unwrap_or(true);
    let code = match p.field("code").opt_bounded(500)? {
        Some(code) if !code.chars().all(|c| c.is_ascii_alphanumeric()) => {
            return Err(ApiError::invalid_param(
                "code",
                "Invalid code: only letters (a-z, A-Z) and digits (0-9) are allowed.",
            ));
        }
        Some(code) => code,
        None => ids::code(),
    };
    let taken = st
        .promotion_codes
        .iter()
        .any(|c| c.active && c.code.eq_ignore_ascii_case(&code));
    if active && taken {
        return Err(ApiError::invalid_param(
            "code",
            format!("An active promotion code with `code: {code}` already exists."),
        ));
    }
    let restrictions = p.field("restrictions");
    let minimum = match (
        amount_param(&restrictions.child("minimum_amount"))?,
        restrictions.child("minimum_amount_currency").is_present(),
    ) {
        (Some(amount), true) => Some((
            amount,
            currency_param(&restrictions.child("minimum_amount_currency"))?,
        )),
        (Some(_), false) => {
            return Err(ApiError::missing_param(
                "restrictions[minimum_amount_currency]",
            ));
        }
        (None, true) => return Err(ApiError::missing_param("restrictions[minimum_amount]")),
        (None, false) => None,
    };
    let promotion_code = PromotionCode {
        id: ids::object("promo"),
        created: now,
        code,
        coupon: coupon.id.clone(),
        active,
        customer: existing_customer(st, &p.field("customer"))?,
        expires_at: future_timestamp(&p.field("expires_at"), now)?,
        max_redemptions: p.field("max_redemptions").opt_int_min(1)?,
        times_redeemed: 0,
        minimum,
        metadata: p.field("metadata").metadata()?,
    };
    let json = promotion_code.to_json(coupon, now);
    st.promotion_codes.insert(promotion_code);
    st.emit("promotion_code.created", json.clone());
    expand(st, p, json)
}

pub fn list_promotion_codes(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["active", "code", "coupon", "customer"]);
    p.check_allowed(&allowed)?;
    let active = p.field("active").opt_bool()?;
    // Stripe matches `code` whatever its case.
    let code = p.field("code").opt_str()?;
    let customer = p.field("customer").opt_str()?;
    let by = p
        .field("coupon")
        .opt_str()?
        .map(|coupon| ("coupon", coupon));
    let keep = move |c: &PromotionCode| {
        active.is_none_or(|a| c.active == a)
            && code.is_none_or(|code| c.code.eq_ignore_ascii_case(code))
            && customer.is_none_or(|customer| c.customer.as_deref() == Some(customer))
    };
    page(
        p,
        "/v1/promotion_codes",
        |cursor| st.promotion_codes.walk(cursor, "promotion_code", by, keep),
        |c| st.promotion_code_json(&c.id).unwrap_or_default(),
    )
}

pub fn retrieve_promotion_code(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let json = st
        .promotion_code_json(id)
        .ok_or_else(|| ApiError::no_such("promotion_code", id, "promotion_code", true))?;
    expand(st, p, json)
}
