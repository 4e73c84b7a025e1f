//! `/v1/refunds`.

use serde_json::Value;

use super::expand::expand;
use crate::error::ApiError;
use crate::form::Params;
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
            let found = st
                .charges
                .get(charge)
                .ok_or_else(|| ApiError::no_such("charge", charge, "charge", false))?;
            if found.failure.is_some() {
                return Err(ApiError::invalid(format!(
                    "Charge {charge} has failed and cannot be refunded."
                ))
                .with_param("charge"));
            }
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
