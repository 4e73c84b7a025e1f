//! `/v1/refunds`: create (by `charge` or `payment_intent`), list and retrieve.

use serde_json::Value;

use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::model::Refund;
use crate::payments;
use crate::state::State;

pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "payment_intent",
        "charge",
        "amount",
        "reason",
        "metadata[*]",
        "expand[N]",
    ])?;
    let amount = p.field("amount").opt_int_min(1)?;
    let reason =
        p.field("reason")
            .opt_enum(&["duplicate", "fraudulent", "requested_by_customer"])?;
    let metadata = p.field("metadata").metadata()?;
    let charge_id = match (
        p.field("charge").opt_str()?,
        p.field("payment_intent").opt_str()?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_param(
                "charge",
                "You may only specify one of these parameters: charge, payment_intent.",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_param(
                "payment_intent",
                "One of the following params should be provided for this request: payment_intent or charge.",
            ));
        }
        (Some(charge), None) => {
            st.charges
                .get(charge)
                .ok_or_else(|| ApiError::no_such("charge", charge, "charge", false))?;
            charge.to_owned()
        }
        (None, Some(intent_id)) => {
            let intent = st.payment_intents.get(intent_id).ok_or_else(|| {
                ApiError::no_such("payment_intent", intent_id, "payment_intent", false)
            })?;
            match (&intent.latest_charge, intent.status) {
                (Some(charge), "succeeded") => charge.clone(),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                    ))
                    .with_param("payment_intent"));
                }
            }
        }
    };
    let json = payments::refund(st, &charge_id, amount, reason, metadata)?;
    expand(st, p, json)
}

pub fn list(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["charge", "payment_intent"]);
    p.check_allowed(&allowed)?;
    let charge = p.field("charge").opt_str()?;
    let intent = p.field("payment_intent").opt_str()?;
    let by = match (charge, intent) {
        (Some(charge), _) => Some(("charge", charge)),
        (None, Some(intent)) => Some(("payment_intent", intent)),
        (None, None) => None,
    };
    let keep = move |r: &Refund| intent.is_none_or(|i| r.payment_intent == i);
    let list = page(
        p,
        "/v1/refunds",
        |cursor| st.refunds.walk(cursor, "refund", by, keep),
        Refund::to_json,
    )?;
    expand(st, p, list)
}

pub fn retrieve(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let refund = st
        .refunds
        .get(id)
        .ok_or_else(|| ApiError::no_such("refund", id, "refund", true))?;
    expand(st, p, refund.to_json())
}
