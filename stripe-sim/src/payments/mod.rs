//! Payments: PaymentIntents and their charges (here), the Checkout flow of
//! the hosted page, bank debits and refunds settling later, and refunds.

mod checkout;
mod refunds;
mod settlement;

use serde_json::{Map, Value, json};

pub use checkout::{
    Entry, Method, PayOutcome, complete_authentication, fail_authentication, pay_session,
};
pub use refunds::refund;
pub use settlement::{Job, run_all, run_due};

use crate::cards::{Decline, OnSession};
use crate::error::ApiError;
use crate::ids;
use crate::model::{
    Charge, ChargeStatus, Instrument, PaymentIntent, PaymentMethod, ShippingDetails,
};
use crate::state::State;

pub struct NewIntent {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub payment_method: Option<String>,
    pub payment_method_types: Vec<String>,
    pub setup_future_usage: Option<&'static str>,
    pub receipt_email: Option<String>,
    pub shipping: Option<ShippingDetails>,
    pub checkout_session: Option<String>,
}

pub fn create_intent(st: &mut State, new: NewIntent) -> String {
    let id = ids::object("pi");
    let intent = PaymentIntent {
        client_secret: ids::client_secret(&id),
        id: id.clone(),
        created: st.now(),
        amount: new.amount,
        amount_received: 0,
        currency: new.currency,
        customer: new.customer,
        description: new.description,
        metadata: new.metadata,
        status: if new.payment_method.is_some() {
            "requires_confirmation"
        } else {
            "requires_payment_method"
        },
        payment_method: new.payment_method,
        payment_method_types: new.payment_method_types,
        latest_charge: None,
        last_payment_error: None,
        next_action: None,
        setup_future_usage: new.setup_future_usage,
        receipt_email: new.receipt_email,
        shipping: new.shipping,
        checkout_session: new.checkout_session,
    };
    st.emit("payment_intent.created", intent.to_json());
    st.payment_intents.insert(intent);
    id
}

/// Confirms through the API: on-session (3D Secure cards ask for action) or
/// off-session (the saved card's merchant-initiated behaviour).
pub fn confirm_intent(st: &mut State, intent_id: &str, off_session: bool) -> Result<(), ApiError> {
    let (_, pm) = intent_and_method(st, intent_id)?;
    // Only cards are saved to customers, so only cards are confirmed here.
    let Instrument::Card(card) = &pm.instrument else {
        return Err(ApiError::internal());
    };
    let test_card = card.test_card;
    if off_session {
        return match test_card.off_session_outcome(pm.set_up_for) {
            None => succeed(st, intent_id),
            Some(decline) => Err(decline_intent(st, intent_id, decline)?),
        };
    }
    match test_card.on_session {
        OnSession::Succeed => succeed(st, intent_id),
        OnSession::Decline(decline) => Err(decline_intent(st, intent_id, decline)?),
        OnSession::Authenticate { .. } => require_action(st, intent_id),
    }
}

fn intent_and_method(
    st: &State,
    intent_id: &str,
) -> Result<(PaymentIntent, PaymentMethod), ApiError> {
    let intent = st
        .payment_intents
        .get(intent_id)
        .ok_or_else(ApiError::internal)?;
    let pm_id = intent.payment_method.as_deref().unwrap_or_default();
    let pm = st
        .payment_methods
        .get(pm_id)
        .ok_or_else(ApiError::internal)?;
    Ok((intent.clone(), pm.clone()))
}

/// Charges the intent's payment method: a new charge in `status`, which
/// becomes its latest charge. Returns the charge's id and JSON.
fn charge(
    st: &mut State,
    intent_id: &str,
    status: ChargeStatus,
) -> Result<(String, Value), ApiError> {
    let (intent, pm) = intent_and_method(st, intent_id)?;
    let charge = Charge {
        id: ids::object("ch"),
        created: st.now(),
        amount: intent.amount,
        amount_refunded: 0,
        currency: intent.currency.clone(),
        customer: intent.customer.clone(),
        description: intent.description.clone(),
        metadata: intent.metadata.clone(),
        payment_intent: intent.id.clone(),
        payment_method: pm.id.clone(),
        instrument: pm.instrument.clone(),
        fingerprint: pm.fingerprint.clone(),
        email: pm.email.clone(),
        name: pm.name.clone(),
        receipt_email: intent.receipt_email.clone(),
        shipping: intent.shipping.clone(),
        status,
    };
    let id = charge.id.clone();
    let json = st.charge_json(&charge);
    st.charges.insert(charge);
    st.payment_intent_mut(intent_id)?.latest_charge = Some(id.clone());
    Ok((id, json))
}

/// The intent's (new or pending) charge succeeded: the intent has been paid.
fn succeed(st: &mut State, intent_id: &str) -> Result<(), ApiError> {
    let pending = st
        .payment_intents
        .get(intent_id)
        .filter(|intent| intent.status == "processing")
        .and_then(|intent| intent.latest_charge.clone());
    let charge_json = match pending {
        Some(charge_id) => {
            st.charge_mut(&charge_id)?.status = ChargeStatus::Succeeded;
            let charge = st.charges.get(&charge_id).ok_or_else(ApiError::internal)?;
            st.charge_json(charge)
        }
        None => charge(st, intent_id, ChargeStatus::Succeeded)?.1,
    };
    st.emit("charge.succeeded", charge_json);
    let intent = st.payment_intent_mut(intent_id)?;
    intent.status = "succeeded";
    intent.amount_received = intent.amount;
    intent.last_payment_error = None;
    intent.next_action = None;
    let json = intent.to_json();
    st.emit("payment_intent.succeeded", json);
    Ok(())
}

/// Submits a bank debit: the charge is pending and the intent `processing`
/// until the debit settles (see [`settlement`]).
fn begin_debit(st: &mut State, intent_id: &str) -> Result<(), ApiError> {
    let intent = st.payment_intent_mut(intent_id)?;
    intent.status = "processing";
    intent.last_payment_error = None;
    let json = intent.to_json();
    st.emit("payment_intent.processing", json);
    let (_, charge_json) = charge(st, intent_id, ChargeStatus::Pending)?;
    st.emit("charge.pending", charge_json);
    Ok(())
}

/// Records a declined charge (or fails the pending one) and returns the 402
/// error Stripe answers with, which embeds the PaymentIntent and PaymentMethod.
fn decline_intent(st: &mut State, intent_id: &str, decline: Decline) -> Result<ApiError, ApiError> {
    let pending = st
        .payment_intents
        .get(intent_id)
        .filter(|intent| intent.status == "processing")
        .and_then(|intent| intent.latest_charge.clone());
    let (charge_id, charge_json) = match pending {
        Some(charge_id) => {
            st.charge_mut(&charge_id)?.status = ChargeStatus::Failed(decline);
            let charge = st.charges.get(&charge_id).ok_or_else(ApiError::internal)?;
            let json = st.charge_json(charge);
            (charge_id, json)
        }
        None => charge(st, intent_id, ChargeStatus::Failed(decline))?,
    };
    let (_, pm) = intent_and_method(st, intent_id)?;
    let mut error = ApiError::card(decline.code, decline.message)
        .with_decline_code(decline.decline_code)
        .with_extra("charge", json!(charge_id));
    if let Some(param) = decline.param {
        error = error.with_param(param);
    }
    let pm_json = pm.to_json();
    let mut last_error = error.error_object();
    last_error["charge"] = json!(charge_id);
    last_error["payment_method"] = pm_json.clone();
    st.emit("charge.failed", charge_json);
    let intent = st.payment_intent_mut(intent_id)?;
    intent.status = "requires_payment_method";
    intent.last_payment_error = Some(last_error);
    intent.next_action = None;
    let intent_json = intent.to_json();
    st.emit("payment_intent.payment_failed", intent_json.clone());
    Ok(error
        .with_extra("payment_intent", intent_json)
        .with_extra("payment_method", pm_json))
}

fn require_action(st: &mut State, intent_id: &str) -> Result<(), ApiError> {
    let intent = st.payment_intent_mut(intent_id)?;
    intent.status = "requires_action";
    intent.next_action = Some(json!({
        "type": "use_stripe_sdk",
        "use_stripe_sdk": { "type": "three_d_secure_redirect" }
    }));
    let json = intent.to_json();
    st.emit("payment_intent.requires_action", json);
    Ok(())
}
