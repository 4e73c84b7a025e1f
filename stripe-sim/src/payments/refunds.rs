//! Refunds: part or all of what is left of a charge. Card refunds succeed at
//! once, except the test cards' that settle later (7726) or fail later (5126);
//! bank debit refunds are pending until they settle.

use serde_json::{Map, Value};

use super::Job;
use crate::cards::Refunds;
use crate::error::ApiError;
use crate::ids;
use crate::model::{ChargeStatus, Instrument, Refund};
use crate::money;
use crate::state::State;

pub fn refund(
    st: &mut State,
    charge_id: &str,
    amount: Option<i64>,
    reason: Option<&'static str>,
    metadata: Map<String, Value>,
) -> Result<Value, ApiError> {
    let now = st.now();
    let charge = st.charge_mut(charge_id)?;
    match charge.status {
        ChargeStatus::Succeeded => {}
        ChargeStatus::Pending => {
            return Err(ApiError::invalid(format!(
                "Charge {charge_id} is still pending and cannot be refunded until it succeeds."
            ))
            .with_param("charge"));
        }
        ChargeStatus::Failed(_) => {
            return Err(ApiError::invalid(format!(
                "Charge {charge_id} has failed and cannot be refunded."
            ))
            .with_param("charge"));
        }
    }
    let remaining = charge.amount - charge.amount_refunded;
    if remaining == 0 {
        return Err(
            ApiError::invalid(format!("Charge {charge_id} has already been refunded."))
                .with_code("charge_already_refunded"),
        );
    }
    let amount = amount.unwrap_or(remaining);
    if amount > remaining {
        return Err(ApiError::invalid(format!(
            "Refund amount ({}) is greater than unrefunded amount on charge ({})",
            money::format(amount, &charge.currency),
            money::format(remaining, &charge.currency)
        ))
        .with_param("amount"));
    }
    charge.amount_refunded += amount;
    // Bank refunds take a while, like the 7726 card's; the 5126 card's seem to work, then fail.
    let (status, changing) = match &charge.instrument {
        Instrument::Bank(_) => ("pending", true),
        Instrument::Card(card) => match card.test_card.refunds {
            Refunds::Succeed => ("succeeded", false),
            Refunds::PendingThenSucceed => ("pending", true),
            Refunds::SucceedThenFail => ("succeeded", true),
        },
    };
    let refund = Refund {
        id: ids::object("re"),
        created: now,
        amount,
        currency: charge.currency.clone(),
        charge: charge.id.clone(),
        payment_intent: charge.payment_intent.clone(),
        reason,
        metadata,
        status,
        failure_reason: None,
        changing,
    };
    let refund_json = refund.to_json();
    if changing {
        st.schedule_settlement(Job::Refund(refund.id.clone()));
    }
    st.refunds.insert(refund);
    let charge = st.charges.get(charge_id).ok_or_else(ApiError::internal)?;
    let charge_json = st.charge_json(charge);
    st.emit("charge.refunded", charge_json);
    st.emit("refund.created", refund_json.clone());
    Ok(refund_json)
}
