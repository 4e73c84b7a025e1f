//! What settles after a delay (`Config::settlement_delay`, or at once through
//! `POST /_sim/settle`): bank debits succeed or fail as their test account
//! says, pending refunds succeed, and the 5126 test card's refunds fail.

use serde_json::json;

use super::checkout::redeem;
use super::{decline_intent, succeed};
use crate::banks;
use crate::error::ApiError;
use crate::model::{Instrument, Payment};
use crate::state::State;

/// A change waiting for its time, by the id of the object it changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    /// A `processing` PaymentIntent paid by bank debit.
    Debit(String),
    /// A refund whose status will change.
    Refund(String),
}

/// Runs the jobs that are due.
pub fn run_due(st: &mut State) {
    let now = st.now();
    for job in st.take_jobs(Some(now)) {
        run(st, &job);
    }
}

/// Runs every waiting job now; returns the ids of what they changed.
pub fn run_all(st: &mut State) -> Vec<String> {
    let jobs = st.take_jobs(None);
    for job in &jobs {
        run(st, job);
    }
    jobs.into_iter()
        .map(|job| match job {
            Job::Debit(id) | Job::Refund(id) => id,
        })
        .collect()
}

fn run(st: &mut State, job: &Job) {
    let result = match job {
        Job::Debit(intent) => settle_debit(st, intent),
        Job::Refund(refund) => settle_refund(st, refund),
    };
    if let Err(err) = result {
        tracing::error!(?job, error = %err.message, "settlement failed");
    }
}

/// The debit succeeds (the session is paid) or fails (it stays unpaid), with
/// the events Stripe sends for each. An intent no longer processing (or
/// dropped by the memory bound) is left alone.
fn settle_debit(st: &mut State, intent_id: &str) -> Result<(), ApiError> {
    let Some(intent) = st
        .payment_intents
        .get(intent_id)
        .filter(|intent| intent.status == "processing")
    else {
        return Ok(());
    };
    let session_id = intent.checkout_session.clone();
    let pm_id = intent.payment_method.clone().unwrap_or_default();
    let Some(Instrument::Bank(bank)) = st.payment_methods.get(&pm_id).map(|pm| &pm.instrument)
    else {
        return Err(ApiError::internal());
    };
    let (payment, event) = if bank.succeeds {
        succeed(st, intent_id)?;
        (Payment::Paid, "checkout.session.async_payment_succeeded")
    } else {
        decline_intent(st, intent_id, banks::NO_ACCOUNT)?;
        (Payment::Failed, "checkout.session.async_payment_failed")
    };
    if let Some(session_id) = session_id {
        let session = st.session_mut(&session_id)?;
        session.payment = payment;
        let json = session.to_json();
        st.emit(event, json);
        if payment == Payment::Paid {
            redeem(st, &session_id);
        }
    }
    Ok(())
}

/// A pending refund succeeds; a refund of the 5126 card (`succeeded` until
/// now) fails, giving the charge its amount back. Both are announced as `refund.updated` and
/// `charge.refund.updated`; a failure also as `refund.failed`.
fn settle_refund(st: &mut State, refund_id: &str) -> Result<(), ApiError> {
    let Some(refund) = st.refunds.get_mut(refund_id).filter(|r| r.changing) else {
        return Ok(());
    };
    refund.changing = false;
    let previous = json!({ "status": refund.status });
    let failed = refund.status == "succeeded";
    if failed {
        refund.status = "failed";
        refund.failure_reason = Some("expired_or_canceled_card");
    } else {
        refund.status = "succeeded";
    }
    let (amount, charge_id) = (refund.amount, refund.charge.clone());
    let json = refund.to_json();
    if failed && let Some(charge) = st.charges.get_mut(&charge_id) {
        charge.amount_refunded -= amount;
    }
    st.emit_update("charge.refund.updated", json.clone(), previous.clone());
    st.emit_update("refund.updated", json.clone(), previous);
    if failed {
        st.emit("refund.failed", json);
    }
    Ok(())
}
