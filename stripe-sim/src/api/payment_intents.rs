//! `/v1/payment_intents`: create (and confirm) and retrieve.

use serde_json::Value;

use super::common::{
    AmountOf, card_only, check_amount, currency_param, email_param, existing_customer,
};
use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::model::PaymentIntent;
use crate::payments::{self, NewIntent};
use crate::state::State;

pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "amount",
        "currency",
        "customer",
        "payment_method",
        "confirm",
        "off_session",
        "description",
        "receipt_email",
        "setup_future_usage",
        "metadata[*]",
        "payment_method_types[N]",
        "expand[N]",
    ])?;
    let amount_field = p.field("amount");
    let amount = amount_field
        .opt_int_min(1)?
        .ok_or_else(|| ApiError::missing_param("amount"))?;
    let currency = currency_param(&p.field("currency"))?;
    check_amount(amount, &currency, AmountOf::PaymentIntent)?;
    let customer = existing_customer(st, &p.field("customer"))?;
    let payment_method = match p.field("payment_method").opt_str()? {
        None => None,
        Some(pm_id) => {
            let pm = st.payment_methods.get(pm_id).ok_or_else(|| {
                ApiError::no_such("PaymentMethod", pm_id, "payment_method", false)
            })?;
            if pm.customer != customer {
                return Err(ApiError::invalid_param(
                    "payment_method",
                    "The provided PaymentMethod was previously used with a PaymentIntent without \
                     Customer attachment, shared with a connected account without Customer \
                     attachment, or was detached from a Customer. It may not be used again. To \
                     use a PaymentMethod multiple times, you must attach it to a Customer first.",
                ));
            }
            Some(pm_id.to_owned())
        }
    };
    let confirm = p.field("confirm").opt_bool()?.unwrap_or(false);
    let off_session = match p.field("off_session").opt_str()? {
        None | Some("false") => false,
        Some("true" | "one_off" | "recurring") => true,
        Some(other) => {
            return Err(ApiError::invalid_param(
                "off_session",
                format!("Invalid off_session: {other}; must be a boolean, one_off or recurring"),
            ));
        }
    };
    if off_session && !confirm {
        return Err(ApiError::invalid_param(
            "off_session",
            "off_session can only be set when confirm=true.",
        ));
    }
    if confirm && payment_method.is_none() {
        return Err(ApiError::invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You \
             can either update the PaymentIntent with a payment method and then confirm it \
             again, or confirm it again directly with a payment method.",
        )
        .with_code("payment_intent_unexpected_state"));
    }
    card_only(&p.field("payment_method_types"))?;
    let new = NewIntent {
        payment_method_types: vec!["card".to_owned()],
        shipping: None,
        amount,
        currency,
        customer,
        description: p.field("description").opt_bounded(1000)?,
        metadata: p.field("metadata").metadata()?,
        payment_method,
        setup_future_usage: p
            .field("setup_future_usage")
            .opt_enum(&["on_session", "off_session"])?,
        receipt_email: email_param(&p.field("receipt_email"))?,
        checkout_session: None,
    };
    let id = payments::create_intent(st, new);
    if confirm {
        payments::confirm_intent(st, &id, off_session)?;
    }
    let json = st.render(&id).ok_or_else(ApiError::internal)?;
    expand(st, p, json)
}

/// `GET /v1/payment_intents`: newest first, optionally one customer's.
pub fn list(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("customer");
    p.check_allowed(&allowed)?;
    let by = p.field("customer").opt_str()?.map(|c| ("customer", c));
    let list = page(
        p,
        "/v1/payment_intents",
        |cursor| {
            st.payment_intents
                .walk(cursor, "payment_intent", by, |_| true)
        },
        PaymentIntent::to_json,
    )?;
    expand(st, p, list)
}

pub fn retrieve(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]", "client_secret"])?;
    if !id.starts_with("pi_") {
        return Err(ApiError::no_such("payment_intent", id, "intent", true));
    }
    let json = st
        .render(id)
        .ok_or_else(|| ApiError::no_such("payment_intent", id, "intent", true))?;
    expand(st, p, json)
}
